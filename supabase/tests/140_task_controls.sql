-- Controls on a task: stop with a grace for the agent to commit (stop_task, sweep_task_stops), a
-- fork from a chosen message (fork_task's fromMessageId), and a new task on a chosen node
-- (submit_task's nodeId).
begin;
\ir _fixtures.psql
select plan(33);

-- Stop with grace: the live agent is told to commit and finish; the task stays active until the grace ends.
select matches(pg_temp.run_as('other user', $$select public.stop_task('44444444-0000-0000-0000-000000000001', 30)::text$$),
  '^ERROR 42501', 'another user cannot stop the task');
select matches(pg_temp.run_as('anon', $$select public.stop_task('44444444-0000-0000-0000-000000000001', 30)::text$$),
  '^ERROR 42501', 'anon cannot stop a task');
select matches(pg_temp.run_as('owner', $$select public.stop_task('44444444-0000-0000-0000-000000000001', 301)::text$$),
  '^ERROR 22023: .*0 to 300 seconds', 'a grace beyond max_stop_grace_seconds is refused');
select matches(pg_temp.run_as('owner', $$select public.stop_task('44444444-0000-0000-0000-000000000001', -1)::text$$),
  '^ERROR 22023', 'a negative grace is refused');

select pg_temp.run_as('owner', $$select public.stop_task('44444444-0000-0000-0000-000000000001', 30, 'wrong approach')::text$$)::jsonb as stop1 \gset
select is((:'stop1'::jsonb ->> 'stopping') || '/' || (:'stop1'::jsonb ->> 'status') || '/' || (:'stop1'::jsonb ->> 'changed'),
  'true/in_progress/true', 'with grace the task keeps running, stopping');
select is((select stop_deadline - stop_requested_at from public.tasks where id = '44444444-0000-0000-0000-000000000001'),
  interval '30 seconds', 'the deadline is the grace away');
select is((select count(*)::int from public.directives where task_id = '44444444-0000-0000-0000-000000000001'
             and kind = 'stop_warning' and metadata ->> 'by' = 'user' and content = 'wrong approach'), 1,
  'a stop warning directive from the user is recorded');
select ok((select payload ->> 'content' ~ 'commit your work now' and payload ->> 'content' ~ '30 seconds'
                  and workspace_id = '55555555-0000-0000-0000-000000000001'
             from public.node_commands where kind = 'prompt' and dedupe_key like 'directive:%'
              and payload ->> 'directiveId' = (select id::text from public.directives
                                                 where task_id = '44444444-0000-0000-0000-000000000001' and kind = 'stop_warning')),
  'the agent gets a prompt to commit and finish, on its workspace');
select ok((select content ~ '^Stop requested \(wrong approach\)\. The agent has 30 seconds' and role = 'system'
             from public.messages where session_id = '66666666-0000-0000-0000-000000000001'
              and tool_metadata ->> 'kind' = 'stop_request'), 'the chat says the stop was requested and how long the agent has');
select is((select count(*)::int from public.task_events where task_id = '44444444-0000-0000-0000-000000000001'
             and reason = 'stop requested with 30 s of grace: wrong approach' and actor_type = 'user'), 1,
  'an event row records the request and who made it');

select is(pg_temp.run_as('owner', $$select public.stop_task('44444444-0000-0000-0000-000000000001', 60)::jsonb ->> 'changed'$$),
  'false', 'stopping again with a longer grace changes nothing');
select is((select count(*)::int from public.directives where task_id = '44444444-0000-0000-0000-000000000001' and kind = 'stop_warning'),
  1, 'and sends no second warning');
select is(pg_temp.run_as('owner', $$select public.stop_task('44444444-0000-0000-0000-000000000001', 20)::jsonb ->> 'changed'$$),
  'true', 'a shorter grace moves the deadline earlier');

select is(public.sweep_task_stops(), 0, 'before the deadline the sweep leaves it');
select set_config('sam.now', (now() + interval '21 seconds')::text, true);
select is(public.sweep_task_stops(), 1, 'after the deadline the sweep cancels it');
select is((select status::text from public.tasks where id = '44444444-0000-0000-0000-000000000001'), 'cancelled', 'the task is cancelled');
select is((select reason from public.task_events where task_id = '44444444-0000-0000-0000-000000000001' and to_status = 'cancelled'),
  'wrong approach (grace ended)', 'the cancel event says why');
select is((select status::text from public.workspaces where id = '55555555-0000-0000-0000-000000000001'), 'stopping',
  'its workspace is stopped');
select is(public.sweep_task_stops(), 0, 'sweeping again changes nothing');
select is(pg_temp.run_as('owner', $$select public.stop_task('44444444-0000-0000-0000-000000000001', 10)::jsonb ->> 'changed'$$),
  'false', 'stopping a cancelled task changes nothing');
select set_config('sam.now', '', true);

-- Without grace: cancelled at once.
select is(pg_temp.run_as('owner', $$select public.stop_task('44444444-0000-0000-0000-000000000003')::jsonb ->> 'status'$$),
  'cancelled', 'without grace the task is cancelled at once');

-- A task that finishes within its grace is left alone.
select pg_temp.run_as('other user', $$select public.stop_task('44444444-0000-0000-0000-000000000002', 10)::text$$) is not null;
select public.complete_task('44444444-0000-0000-0000-000000000002', 'done in time');
select set_config('sam.now', (now() + interval '11 seconds')::text, true);
select is(public.sweep_task_stops(), 0, 'a task that finished before the deadline is not swept');
select is((select status::text from public.tasks where id = '44444444-0000-0000-0000-000000000002'), 'completed',
  'it stays completed');
select set_config('sam.now', '', true);

-- A chosen node: only the owner's idle node takes the task; the task records it.
insert into public.nodes (id, owner_id, name, status, vm_size, warm_since, warm_until, last_heartbeat_at, agent_ready_at) values
  ('33333333-0000-0000-0000-000000000009', '11111111-0000-0000-0000-000000000001', 'Pick me', 'warm', 'large', now(),
   now() + interval '1 hour', now(), now());
select matches(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'On N2',
  '{"nodeId": "33333333-0000-0000-0000-000000000002"}')::text$$), '^ERROR 42501', 'another user''s node is refused');
select matches(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'On N1',
  '{"nodeId": "33333333-0000-0000-0000-000000000001"}')::text$$), '^ERROR 55000: node .* is active', 'a busy node is refused');
select matches(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'On ?',
  '{"nodeId": "nope"}')::text$$), '^ERROR 22023', 'a node id that is not one is refused');
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Run on my big node',
  '{"nodeId": "33333333-0000-0000-0000-000000000009", "taskMode": "conversation"}') ->> 'taskId'$$) as pinned \gset
select is((select t.node_id::text || '/' || t.vm_size || '/' || t.task_mode || '/' || w.node_id::text || '/' || n.status
             from public.tasks t join public.workspaces w on w.task_id = t.id join public.nodes n on n.id = t.node_id
            where t.id = :'pinned'),
  '33333333-0000-0000-0000-000000000009/large/conversation/33333333-0000-0000-0000-000000000009/active',
  'the task records the node and its size, and its workspace is requested there');

-- Fork from a chosen message: the fork's chat and its agent's first prompt carry the conversation up to it.
insert into public.messages (session_id, project_id, owner_id, message_id, role, content) values
  ('66666666-0000-0000-0000-000000000001', '22222222-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000001',
   'u-1', 'user', 'Use approach A'),
  ('66666666-0000-0000-0000-000000000001', '22222222-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000001',
   'a-1', 'assistant', 'Working on approach A'),
  ('66666666-0000-0000-0000-000000000001', '22222222-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000001',
   'a-2', 'assistant', ' now.'),
  ('66666666-0000-0000-0000-000000000001', '22222222-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000001',
   'a-3', 'assistant', 'Later thoughts');
select id as point from public.messages where session_id = '66666666-0000-0000-0000-000000000001' and message_id = 'a-2' \gset
select id as foreign_msg from public.messages where session_id = '66666666-0000-0000-0000-000000000002' and message_id = 'fixture-1' \gset
select matches(pg_temp.run_as('owner', format($$select public.fork_task('44444444-0000-0000-0000-000000000001', 'B', '{"fromMessageId": %s}')::text$$,
  :'foreign_msg')), '^ERROR 22023: message .* is not part of', 'a message of another conversation is refused');
select matches(pg_temp.run_as('owner', $$select public.fork_task('44444444-0000-0000-0000-000000000001', 'B', '{"fromMessageId": "x"}')::text$$),
  '^ERROR 22023', 'a fork point that is not a message id is refused');

insert into public.nodes (id, owner_id, name, status, vm_size, warm_since, warm_until, last_heartbeat_at, agent_ready_at) values
  ('33333333-0000-0000-0000-000000000010', '11111111-0000-0000-0000-000000000001', 'Warm', 'warm', 'medium', now(),
   now() + interval '1 hour', now(), now());
insert into public.tokens (jti, kind, owner_id, node_id, expires_at) values
  ('88888888-0000-0000-0000-000000000010', 'node', '11111111-0000-0000-0000-000000000001', '33333333-0000-0000-0000-000000000010',
   now() + interval '1 day');
insert into identities values ('node N10', 'sam_node',
  '{"role":"sam_node","jti":"88888888-0000-0000-0000-000000000010","node_id":"33333333-0000-0000-0000-000000000010"}');
select pg_temp.run_as('owner', format($$select public.fork_task('44444444-0000-0000-0000-000000000001', 'Try approach B instead',
  '{"fromMessageId": %s}') ->> 'taskId'$$, :'point')) as fork \gset
select is((select triggered_by || '/' || source_task_id from public.tasks where id = :'fork'),
  'fork/44444444-0000-0000-0000-000000000001', 'the fork is recorded as a fork of the task');
select ok((select content ~ 'User: Use approach A' and content ~ 'Agent: Working on approach A now\.' and content !~ 'Later thoughts'
                  and origin = 'system' and (tool_metadata ->> 'fromMessageId')::bigint = :point
             from public.messages m join public.tasks t on t.chat_session_id = m.session_id
            where t.id = :'fork' and m.message_id = 'fork-context'),
  'the fork''s chat starts with the conversation up to the chosen message, not after');
select ok((select w.node_id = '33333333-0000-0000-0000-000000000010' from public.workspaces w where w.task_id = :'fork'),
  'the fork runs on the warm node');
select ok(pg_temp.run_as('node N10', format($$select public.node_workspace_bootstrap(%L) #>> '{workspace,initialPrompt}'$$,
            (select id from public.workspaces where task_id = :'fork')))
          ~ '(?s)User: Use approach A.*Working on approach A now\..*The user''s new message:\s+Try approach B instead$',
  'the fork''s agent starts with the conversation, then the new message');

select * from finish();
rollback;
