-- Authorization checks hold when an identity helper is NULL for the caller: `x = current_workspace_id()`
-- is NULL (not false) for a user or an agent, and `not (… or NULL)` let the caller through.
begin;
\ir _fixtures.psql
select plan(7);

select is(pg_temp.run_as('other user', $$select public.stop_agent_session('77777777-0000-0000-0000-000000000001')::text$$),
  'ERROR 42501: not allowed to act on agent session 77777777-0000-0000-0000-000000000001',
  'another user cannot stop my agent session');
select is((select status::text from public.agent_sessions where id = '77777777-0000-0000-0000-000000000001'), 'idle', 'it is still idle');
select is(pg_temp.run_as('owner', $$select public.stop_agent_session('77777777-0000-0000-0000-000000000003')::text$$), 'true',
  'control: the owner can');

-- The internal checks, called the way a SECURITY DEFINER caller would (as the identity's role).
grant execute on function public.sam_authorize_workspace(uuid, boolean), public.record_messages(uuid, jsonb),
  public.record_agent_messages(uuid, jsonb) to authenticated, sam_agent;
select is(pg_temp.run_as('other user', $$select (public.sam_authorize_workspace('55555555-0000-0000-0000-000000000001', false)).id::text$$),
  'ERROR 42501: not allowed to act on workspace 55555555-0000-0000-0000-000000000001', 'a user is not the workspace');
select is(pg_temp.run_as('owner', $$select (public.sam_authorize_workspace('55555555-0000-0000-0000-000000000001', false)).id::text$$),
  'ERROR 42501: not allowed to act on workspace 55555555-0000-0000-0000-000000000001', 'not even its owner, where only the workspace may act');
select is(pg_temp.run_as('agent A1', $$select public.record_messages('66666666-0000-0000-0000-000000000001', '[{"messageId":"x","role":"user","content":"forged"}]')::text$$),
  'ERROR 42501: not allowed to write to session 66666666-0000-0000-0000-000000000001', 'an agent cannot write a batch into a session');
select is(pg_temp.run_as('other user', $$select public.record_agent_messages('77777777-0000-0000-0000-000000000001', '[{"messageId":"x","role":"user","content":"forged"}]')::text$$),
  'ERROR 42501: not allowed to write to agent session 77777777-0000-0000-0000-000000000001', 'nor can a user');

select * from finish();
rollback;
