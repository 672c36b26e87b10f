-- Identities: what each one sees and may call, and that claims count only with a live token row.
begin;
\ir _fixtures.psql
select plan(30);

select is(pg_temp.run_as('owner', $$select count(*) from public.tasks$$), '2', 'a user sees their own project''s tasks');
select is(pg_temp.run_as('other user', $$select string_agg(title, ',') from public.tasks$$), 'T2', 'and another user only theirs');
select is(pg_temp.run_as('workspace W1', $$select string_agg(title, ',') from public.tasks$$), 'T1', 'a workspace sees only its own task');
select is(pg_temp.run_as('workspace W1', $$select count(*) from public.workspaces$$), '1', 'a workspace sees only its own row');
select is(pg_temp.run_as('workspace W1', $$select string_agg(content, ',') from public.messages$$), 'hello from T1',
  'a workspace sees only its own session''s messages');
select is(pg_temp.run_as('same-node workspace W2', $$select count(*) from public.agent_sessions$$), '1',
  'a workspace on the same node sees only its own agent session');
select is(pg_temp.run_as('node N1', $$select count(*) from public.nodes$$), '1', 'a node sees its own row');
select is(pg_temp.run_as('node N1', $$select count(*) from public.node_commands$$), '2', 'and its own command queue');
select matches(pg_temp.run_as('node N1', $$select count(*) from public.workspaces$$), '^ERROR 42501',
  'a node is refused on workspace rows');
select matches(pg_temp.run_as('node N1', $$select public.record_messages('66666666-0000-0000-0000-000000000001', '[{"messageId":"x","role":"assistant","content":"x"}]')$$),
  '^ERROR 42501', 'a node is refused on workspace functions');
select is(pg_temp.run_as('agent A1', $$select count(*) from public.tasks$$), '2', 'an agent reads its project''s tasks');
select is(pg_temp.run_as('agent A1', $$select count(*) from public.messages$$), '2', 'and its project''s messages');
select is(pg_temp.run_as('expired agent token', $$select count(*) from public.tasks$$), '0', 'an expired agent token sees nothing');
select matches(pg_temp.run_as('expired agent token', $$select public.dispatch_task('more work')$$), '^ERROR 42501',
  'and may not dispatch');
select matches(pg_temp.run_as('revoked agent token', $$select public.request_human_input('why?')$$), '^ERROR 42501',
  'a revoked agent token may not ask the human');

insert into identities values
  ('node token as workspace', 'sam_workspace', '{"role":"sam_workspace","jti":"88888888-0000-0000-0000-000000000001","workspace_id":"55555555-0000-0000-0000-000000000001"}'),
  ('W2 jti claiming W1', 'sam_workspace', '{"role":"sam_workspace","jti":"88888888-0000-0000-0000-000000000013","workspace_id":"55555555-0000-0000-0000-000000000001"}'),
  ('W1 claims as agent role', 'sam_agent', '{"role":"sam_agent","jti":"88888888-0000-0000-0000-000000000011","workspace_id":"55555555-0000-0000-0000-000000000001"}');
select is(pg_temp.run_as('node token as workspace', $$select count(*) from public.workspaces$$), '0',
  'a node token presented as a workspace token is refused');
select is(pg_temp.run_as('W2 jti claiming W1', $$select count(*) from public.workspaces$$), '0',
  'claims naming another workspace than the token row are refused');
select is(pg_temp.run_as('W1 claims as agent role', $$select count(*) from public.tasks$$), '0',
  'a workspace token under the agent role is refused');

select matches(pg_temp.run_as('same-node workspace W2', $$select public.record_messages('66666666-0000-0000-0000-000000000001', '[{"messageId":"x","role":"assistant","content":"x"}]')$$),
  '^ERROR 42501', 'a workspace may not write into another workspace''s session on the same node');
select matches(pg_temp.run_as('workspace W1', $$select public.node_heartbeat()$$), '^ERROR 42501',
  'a workspace may not heartbeat as a node');
select is(pg_temp.run_as('node N1', $$select public.node_heartbeat() ->> 'status'$$), 'active', 'a node heartbeats');
select matches(pg_temp.run_as('anon', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'x')$$),
  '^ERROR 42501', 'anon may not submit');
select matches(pg_temp.run_as('other user', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'x')$$),
  '^ERROR 42501', 'another user may not submit into my project');
select matches(pg_temp.run_as('other user', $$select public.cancel_task('44444444-0000-0000-0000-000000000001')$$),
  '^ERROR 42501', 'another user may not cancel my task');
select matches(pg_temp.run_as('agent A1b', $$select public.cancel_task('44444444-0000-0000-0000-000000000001')$$),
  '^ERROR 42501', 'an agent may not cancel a task that is not its child');
select is(pg_temp.run_as('owner', $$select provider from public.credentials$$), 'hetzner', 'a user sees which credentials they stored');
select matches(pg_temp.run_as('owner', $$select ciphertext::text from public.credentials$$), '^ERROR 42501',
  'but never the ciphertext');

select is(pg_temp.run_as('owner', $$select public.revoke_token('88888888-0000-0000-0000-000000000011')::text$$), 'true',
  'the owner revokes a workspace token');
select is(pg_temp.run_as('workspace W1', $$select count(*) from public.workspaces$$), '0', 'after which its claims are refused');
set local sam.now = '2999-01-01T00:00:00Z';
select is(pg_temp.run_as('same-node workspace W2', $$select count(*) from public.workspaces$$), '0',
  'and a token past its expiry is refused');

select * from finish();
rollback;
