-- Revoking "always allow": the owner takes back a standing "always" they gave on a card; the next
-- request of that kind in the task is put to them again (a card), other kinds keep their "always".
-- Only the owner, only on a request they answered "always"; twice is the same as once; an event
-- and a chat line under the card say so.
begin;
\ir _fixtures.psql
select plan(23);

create function pg_temp.ask(p_session text, p_kind text) returns jsonb language sql as $$
  select pg_temp.run_as('workspace W1', format($q$select public.request_agent_permission(%L,
    jsonb_build_object('title', 'Edit README.md', 'toolKind', %L, 'detail', 'README.md'))::text$q$, p_session, p_kind))::jsonb
$$;
create function pg_temp.answer(p_request uuid, p_decision text) returns text language sql as $$
  select pg_temp.run_as('owner', format($q$select public.answer_permission_request(%L, %L)::text$q$, p_request, p_decision))
$$;
create function pg_temp.revoke_as(p_who text, p_request uuid) returns text language sql as $$
  select pg_temp.run_as(p_who, format($q$select public.revoke_permission_always(%L)::text$q$, p_request))
$$;

-- Two cards for edits were open at once (two agent sessions of task T1) and both were answered
-- "always"; a third edit is then allowed at once; running commands is allowed "always" too.
create temp table req (name text primary key, id uuid);
insert into req select 'edit', (pg_temp.ask('77777777-0000-0000-0000-000000000001', 'edit') ->> 'requestId')::uuid;
insert into req select 'edit twin', (pg_temp.ask('77777777-0000-0000-0000-000000000004', 'edit') ->> 'requestId')::uuid;
insert into req select 'execute', (pg_temp.ask('77777777-0000-0000-0000-000000000001', 'execute') ->> 'requestId')::uuid;
create function pg_temp.req(p_name text) returns uuid language sql as $$ select id from req where name = p_name $$;
select is(pg_temp.answer(pg_temp.req('edit'), 'allow_always') || pg_temp.answer(pg_temp.req('edit twin'), 'allow_always')
          || pg_temp.answer(pg_temp.req('execute'), 'allow_always'), 'truetruetrue', 'the owner answers all three "always"');
create temp table granted (answer jsonb);
insert into granted select pg_temp.ask('77777777-0000-0000-0000-000000000001', 'edit');
select is((select answer ->> 'decision' from granted), 'allow_always', 'before the revoke an edit is allowed at once');

-- Who may revoke, and what.
select is(pg_temp.revoke_as('other user', pg_temp.req('edit')),
  format('ERROR 42501: not allowed to revoke permission request %s', pg_temp.req('edit')), 'another user may not revoke');
select is(pg_temp.revoke_as('anon', pg_temp.req('edit')),
  'ERROR 42501: permission denied for function revoke_permission_always', 'anon may not call it');
select is(pg_temp.revoke_as('workspace W1', pg_temp.req('edit')),
  'ERROR 42501: permission denied for function revoke_permission_always', 'nor may the agent''s workspace');
select is(pg_temp.revoke_as('owner', '99999999-0000-0000-0000-000000000701'),
  'ERROR 55000: permission request 99999999-0000-0000-0000-000000000701 is pending and was not answered "always": there is nothing to revoke',
  'a pending request has nothing to revoke');
select is(pg_temp.answer('99999999-0000-0000-0000-000000000704', 'allow_once'), 'true', 'a request is allowed once');
select is(pg_temp.revoke_as('owner', '99999999-0000-0000-0000-000000000704'),
  'ERROR 55000: permission request 99999999-0000-0000-0000-000000000704 is allowed once and was not answered "always": there is nothing to revoke',
  'nor does an "allow once"');
select is(pg_temp.revoke_as('owner', (select (answer ->> 'requestId')::uuid from granted)),
  (select format('ERROR 55000: permission request %s was allowed at once on the word of request %s: revoke that one',
                 id, allowed_by) from public.permission_requests where id = (select (answer ->> 'requestId')::uuid from granted)
                                                                 and allowed_by in (pg_temp.req('edit'), pg_temp.req('edit twin'))),
  'a request allowed at once points to the answer to revoke');

-- The owner revokes; again, and it is the same.
create temp table revoked (stamp text);
insert into revoked select pg_temp.revoke_as('owner', pg_temp.req('edit'));
select matches((select stamp from revoked), '^\d{4}-\d\d-\d\d ', 'the owner revokes the "always" and learns when');
select is(pg_temp.revoke_as('owner', pg_temp.req('edit')), (select stamp from revoked), 'revoking again answers the same');
select is((select status || ' revoked by ' || revoked_by from public.permission_requests where id = pg_temp.req('edit')),
  'allowed_always revoked by 11111111-0000-0000-0000-000000000001', 'the request keeps its answer and says who revoked it');
select is((select count(*)::int from public.permission_requests
            where id in (pg_temp.req('edit'), pg_temp.req('edit twin')) and revoked_at = (select stamp from revoked)::timestamptz),
  2, 'the other card''s "always" of the same kind in the task is revoked with it');
select is((select revoked_at from public.permission_requests where id = pg_temp.req('execute')), null,
  'another kind keeps its "always"');
select is((select string_agg(from_state || ' → ' || to_state || ': ' || reason, '; ')
             from public.lifecycle_events where entity = 'permission_request' and entity_id = pg_temp.req('edit')
              and to_state = 'revoked'),
  'allowed_always → revoked: no longer always allowed: Edit README.md', 'one event, however often it is revoked');
select is((select count(*)::int from public.lifecycle_events where entity = 'permission_request'
            and entity_id = pg_temp.req('edit twin') and to_state = 'revoked'), 1, 'the twin has its event too');
select is((select string_agg(content || ' [' || (tool_metadata ->> 'kind') || ', ' || origin || ']', '; ')
             from public.messages where message_id = 'permission:' || pg_temp.req('edit') || ':revoked'),
  'No longer always allowed: Edit README.md (the agent will ask again) [permission_revoked, sam]',
  'one line under the card says so in the chat');
select is(pg_temp.run_as('owner', format($$select revoked_at is not null from public.permission_requests where id = %L$$,
                                          pg_temp.req('edit'))), 'true', 'the owner reads when it was revoked');
select is(pg_temp.run_as('other user', format($$select count(*) from public.permission_requests where id = %L$$,
                                               pg_temp.req('edit'))), '0', 'another user does not see the request');

-- The next edit is put to the owner again; running commands still is not.
create temp table again (answer jsonb);
insert into again select pg_temp.ask('77777777-0000-0000-0000-000000000004', 'edit');
select is((select answer ? 'decision' from again), false, 'the next edit in the task is asked about again');
select is((select tool_metadata ->> 'kind' from public.messages where message_id = 'permission:' || (select answer ->> 'requestId' from again)),
  'permission_request', 'a card in the chat');
select is(pg_temp.ask('77777777-0000-0000-0000-000000000001', 'execute') ->> 'decision', 'allow_always',
  'running a command is still allowed at once');
select is(pg_temp.answer((select (answer ->> 'requestId')::uuid from again), 'allow_always') ||
          (pg_temp.ask('77777777-0000-0000-0000-000000000001', 'edit') ->> 'decision'),
  'trueallow_always', 'answering the new card "always" gives a new standing "always"');

select * from finish();
rollback;
