-- "Always allow" lasts for the task: once the owner answered a request "always", a later request of
-- the same kind from any agent session of that task (or of a retry of it) is allowed at once — a
-- row with its event, but no card and no notification; another kind, or another task, still asks.
begin;
\ir _fixtures.psql
select plan(14);

create temp table r (id uuid, answer jsonb);
create function pg_temp.ask(p_who text, p_session text, p_kind text) returns jsonb language sql as $$
  select pg_temp.run_as(p_who, format($q$select public.request_agent_permission(%L,
    jsonb_build_object('title', 'Edit README.md', 'toolKind', %L, 'detail', 'README.md'))::text$q$, p_session, p_kind))::jsonb
$$;

insert into r select (a ->> 'requestId')::uuid, a from pg_temp.ask('workspace W1', '77777777-0000-0000-0000-000000000001', 'edit') a;
select is((select answer ? 'decision' from r), false, 'the first edit is put to the owner');
select is(pg_temp.run_as('owner', format($$select public.answer_permission_request(%L, 'allow_always')::text$$, (select id from r))),
  'true', 'the owner answers "always"');
select is((select content from public.messages where message_id = 'permission:' || (select id from r) || ':outcome'),
  'Always allowed for this task: Edit README.md', 'the outcome says how long it lasts');

-- Another agent session of the same task (the agent recovered, the vm-agent restarted): allowed at once.
create temp table second (id uuid, answer jsonb);
insert into second select (a ->> 'requestId')::uuid, a from pg_temp.ask('workspace W1', '77777777-0000-0000-0000-000000000004', 'edit') a;
select is((select answer ->> 'decision' from second), 'allow_always', 'the same kind again is allowed at once');
select is((select status || ' by ' || allowed_by from public.permission_requests where id = (select id from second)),
  'allowed_always by ' || (select id from r), 'it is a row that names the answer it rests on');
select is((select count(*)::int from public.messages where message_id like 'permission:' || (select id from second) || '%'),
  0, 'no card and no outcome line in the chat');
select is((select count(*)::int from public.notifications where dedupe_key = 'permission:' || (select id from second)),
  0, 'no notification');
select matches((select to_state || ': ' || reason from public.lifecycle_events
                 where entity = 'permission_request' and entity_id = (select id from second)),
  '^allowed_always: always allowed \(request [0-9a-f-]{36}\): Edit README.md$', 'an event says why');
select is((select count(*)::int from public.node_commands where dedupe_key = 'permission:' || (select id from second)),
  0, 'the machine needs no command: the answer came with the request');

-- Another kind still asks.
select is((pg_temp.ask('workspace W1', '77777777-0000-0000-0000-000000000001', 'execute')) ? 'decision', false,
  'running a command is asked about on its own');

-- Another task of the same owner and project asks; once it is a retry of the task, it does not.
select is((pg_temp.ask('same-node workspace W2', '77777777-0000-0000-0000-000000000003', 'edit')) ? 'decision', false,
  'another task asks again');
update public.tasks set triggered_by = 'retry', source_task_id = '44444444-0000-0000-0000-000000000001'
 where id = '44444444-0000-0000-0000-000000000003';
select is((pg_temp.ask('same-node workspace W2', '77777777-0000-0000-0000-000000000003', 'edit')) ->> 'decision',
  'allow_always', 'a retry of the task keeps its "always"');

-- An answer other than "always" grants nothing; a grant never rests on a grant.
select is((select count(*)::int from public.permission_requests where allowed_by is not null and allowed_by <> (select id from r)),
  0, 'every allowed-at-once request rests on the owner''s own answer');
select is(pg_temp.run_as('other-project workspace W3', $$select public.request_agent_permission(
  '77777777-0000-0000-0000-000000000001', '{"title": "Edit README.md", "toolKind": "edit"}')::text$$),
  'ERROR 42501: not allowed to ask for agent session 77777777-0000-0000-0000-000000000001',
  'another project''s workspace may not ask (nor learn the grant)');

select * from finish();
rollback;
