-- Placement, warm claim, registration with a bootstrap token (again within its lifetime: same node), heartbeats, the workspace
-- and agent-session machine, message batches, questions, orchestrator jobs.
begin;
\ir _fixtures.psql
select plan(38);

-- A warm node of the owner is claimed by the next task.
insert into public.nodes (id, owner_id, status, warm_since, warm_until, last_heartbeat_at)
values ('33333333-0000-0000-0000-0000000000aa', '11111111-0000-0000-0000-000000000001', 'warm', now(), now() + interval '30 minutes', now());
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Use the warm node')::text$$) as a \gset
select is((select claimed_warm_node_id from public.tasks where id = ((:'a'::jsonb) ->> 'taskId')::uuid), '33333333-0000-0000-0000-0000000000aa'::uuid,
  'a submitted task claims the owner''s warm node');
select is((select status::text from public.nodes where id = '33333333-0000-0000-0000-0000000000aa'), 'active', 'which becomes active');
select is((select status::text || '/' || execution_step from public.tasks where id = ((:'a'::jsonb) ->> 'taskId')::uuid), 'delegated/workspace_creation',
  'and the task is delegated to a new workspace');
select is((select count(*)::int from public.node_commands where node_id = '33333333-0000-0000-0000-0000000000aa' and kind = 'create_workspace'), 1,
  'with a create_workspace command for the node');
select is(public.claim_warm_node(((:'a'::jsonb) ->> 'taskId')::uuid), '33333333-0000-0000-0000-0000000000aa'::uuid, 'claiming again returns the same node');
select throws_ok($$update public.tasks set claimed_warm_node_id = '33333333-0000-0000-0000-0000000000aa' where id = '44444444-0000-0000-0000-000000000001'$$,
  '23505', null, 'a node is never claimed by two live tasks');

-- Failing before the node is used releases it back to warm with a fresh timer.
set local sam.now = '2999-01-01T00:00:00Z';
select is(public.fail_task(((:'a'::jsonb) ->> 'taskId')::uuid, 'provider hiccup'), true, 'the task fails');
select is((select status::text from public.workspaces where id = (select workspace_id from public.tasks where id = ((:'a'::jsonb) ->> 'taskId')::uuid)),
  'stopped', 'its workspace, which its machine never received, is stopped at once');
select is((select status::text || '/' || warm_until from public.nodes where id = '33333333-0000-0000-0000-0000000000aa'),
  'warm/2999-01-01 00:45:00+00', 'the node is warm again with a fresh timer (the project''s 45 min override)');
reset sam.now;
select is(public.destroy_node('33333333-0000-0000-0000-0000000000aa', 'done with it'), true, 'the owner''s warm node is destroyed');

-- No warm node: a node is provisioned.
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Needs a new machine')::text$$) as b \gset
select is((select execution_step::text from public.tasks where id = ((:'b'::jsonb) ->> 'taskId')::uuid), 'node_provisioning', 'no warm node: provisioning');
select (select auto_provisioned_node_id from public.tasks where id = ((:'b'::jsonb) ->> 'taskId')::uuid) as nid \gset
select is((select count(*)::int from public.orchestrator_jobs where kind = 'provision_node' and node_id = :'nid'), 1, 'a provision_node job is queued');

-- Registration with the one-time bootstrap token.
select public.issue_bootstrap_token(:'nid') as tok \gset
select is((select count(*)::int from public.tokens where node_id = :'nid' and kind = 'bootstrap'
             and token_hash = extensions.digest(:'tok', 'sha256')), 1, 'the bootstrap token is stored only as its hash');
select public.register_node(:'tok', '{"agentVersion": "1.0.0"}')::text as reg \gset
select is((select count(*)::int from public.lifecycle_events where entity_id = :'nid' and from_state = 'provisioning' and to_state = 'ready'), 1,
  'registration moves the node provisioning → ready');
-- A machine that lost its node token before keeping it registers again, within the token's lifetime:
-- the same node, a fresh node token, the first one revoked (20261202070000_sessions_survive.sql).
select public.register_node(:'tok', '{"agentVersion": "1.0.0"}')::text as reg2 \gset
select is((select string_agg((jti = ((:'reg2'::jsonb) ->> 'jti')::uuid)::text, ',') from public.tokens
            where node_id = :'nid' and kind = 'node' and revoked_at is null), 'true',
  'the bootstrap token again registers the same node once more, and only its newest node token counts');
select :'reg2' as reg \gset
select throws_ok($$select public.register_node('made-up')$$, '28000', null, 'an unknown token is refused');
select is((select status::text || '/' || execution_step from public.tasks where id = ((:'b'::jsonb) ->> 'taskId')::uuid),
  'delegated/workspace_creation', 'the waiting task gets its workspace');

insert into identities values ('new node', 'sam_node', jsonb_build_object('role', 'sam_node', 'jti', (:'reg'::jsonb) ->> 'jti', 'node_id', :'nid'));
select is(pg_temp.run_as('new node', $$select (public.node_heartbeat('{"agentVersion":"1.0.1"}') ->> 'pendingCommands')$$), '1',
  'the node heartbeats with its node token and learns of its command');
select is(pg_temp.run_as('new node', $$select string_agg(kind, ',') from public.poll_node_commands()$$), 'create_workspace', 'polls it once');
select is(pg_temp.run_as('new node', $$select count(*) from public.poll_node_commands()$$), '0', 'and not twice');
update public.nodes set last_activity_at = '2000-01-01' where id = :'nid';
do $$ begin perform pg_temp.run_as('new node', 'select public.node_heartbeat()::text'); end $$;
select is((select last_activity_at from public.nodes where id = :'nid'), '2000-01-01'::timestamptz, 'a heartbeat is not activity');

-- The workspace comes up and starts an agent.
select (select workspace_id from public.tasks where id = ((:'b'::jsonb) ->> 'taskId')::uuid) as wid \gset
select public.issue_workspace_token(:'wid')::text as wt \gset
insert into identities values ('new workspace', 'sam_workspace', :'wt'::jsonb);
select is(pg_temp.run_as('new workspace', $$select public.workspace_ready()::text$$), 'true', 'the workspace reports ready');
select is(pg_temp.run_as('new workspace', $$select public.workspace_ready()::text$$), 'false', 'a repeated ready changes nothing');
select pg_temp.run_as('new workspace', $$select public.start_agent_session('claude-code')::text$$) as ag \gset
select is(pg_temp.run_as('new workspace', format($$select public.agent_session_ready(%L)::text$$, (:'ag'::jsonb) ->> 'agentSessionId')), 'true',
  'the agent session becomes idle');
select is((select status::text || '/' || execution_step from public.tasks where id = ((:'b'::jsonb) ->> 'taskId')::uuid), 'in_progress/running',
  'and the task runs');
select matches(pg_temp.run_as('new workspace', format($$select public.agent_session_ready(%L)::text$$, '77777777-0000-0000-0000-000000000001')),
  '^ERROR 42501', 'a workspace cannot move another workspace''s agent session');

-- Message batches are idempotent per session and message id.
select is(pg_temp.run_as('new workspace', format($$select public.record_messages(%L, '[{"messageId":"m1","role":"assistant","content":"Looking"},{"messageId":"m2","role":"tool","content":"ls","metadata":{"kind":"execute"}}]')::text$$,
  (:'b'::jsonb) ->> 'sessionId')), '{"persisted": 2, "duplicates": 0}', 'a batch is recorded');
select is(pg_temp.run_as('new workspace', format($$select public.record_messages(%L, '[{"messageId":"m1","role":"assistant","content":"Looking"},{"messageId":"m2","role":"tool","content":"ls"},{"messageId":"m3","role":"assistant","content":"Done"}]')::text$$,
  (:'b'::jsonb) ->> 'sessionId')), '{"persisted": 1, "duplicates": 2}', 'a re-sent batch only adds what is new');
select matches(pg_temp.run_as('new workspace', format($$select public.record_messages(%L, '[]')::text$$, (:'b'::jsonb) ->> 'sessionId')),
  '^ERROR 22023', 'an empty batch is refused');

-- Questions.
insert into identities values ('new agent', 'sam_agent', :'ag'::jsonb);
select pg_temp.run_as('new agent', $$select public.request_human_input('Which limit: 10/s or 100/s?', 'decision', '["10/s","100/s"]')$$) as q \gset
select is((select status::text from public.human_input_requests where id = :'q'), 'pending', 'an agent asks the human');
select is((select count(*)::int from public.notifications where type = 'needs_input' and urgency = 'high' and metadata ->> 'humanInputRequestId' = :'q'), 1,
  'with a high-urgency notification');
select matches(pg_temp.run_as('other user', format($$select public.answer_human_input(%L, 'hi')::text$$, :'q')), '^ERROR 42501', 'only the owner answers');
select is(pg_temp.run_as('owner', format($$select public.answer_human_input(%L, '10/s')::text$$, :'q')), 'true', 'the owner answers');
select is(pg_temp.run_as('owner', format($$select public.answer_human_input(%L, '100/s')::text$$, :'q')), 'false', 'answering again changes nothing');
select is((select string_agg(kind, ',') from public.node_commands where node_id = :'nid' and kind = 'prompt'), 'prompt',
  'the answer reaches the agent as a prompt');

-- Orchestrator jobs retry with backoff, then die.
update public.orchestrator_jobs set max_attempts = 2 where node_id = :'nid';
select is((select count(*)::int from public.claim_orchestrator_jobs(10, array['provision_node'])), 1, 'the orchestrator claims the job');
select is(public.fail_orchestrator_job((select id from public.orchestrator_jobs where node_id = :'nid'), 1, 'quota') ->> 'status', 'pending',
  'a failed attempt goes back to pending with backoff');
select is(public.fail_orchestrator_job((select id from public.orchestrator_jobs where node_id = :'nid'), 1, 'quota again') ->> 'status', 'pending',
  'failing a job that is not running changes nothing');

select * from finish();
rollback;
