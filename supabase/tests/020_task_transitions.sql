-- Task transitions: guarded, repeat-safe, one event per change; submit, dispatch limits, retry, fork.
begin;
\ir _fixtures.psql
select plan(41);

select is(public.sam_initial_title('  Fix   the login bug  '), 'Fix the login bug', 'a short message is its own title');
select is(length(public.sam_initial_title(repeat('word ', 60))), 100, 'a long message is truncated to 100 characters');
select ok(public.sam_initial_title(repeat('word ', 60)) like '%…', 'ending in an ellipsis');
select is(public.sam_branch_name('Please add rate limiting to the upload endpoint', '00000000-0000-0000-0000-0000001a2b3c'),
  'sam/add-rate-limiting-upload-1a2b3c', 'branch: sam/<first 4 meaningful words>-<6 chars>');
select is(public.sam_branch_name('!!! ???', '00000000-0000-0000-0000-0000001a2b3c'), 'sam/task-1a2b3c', 'no words: sam/task-<6>');
select ok(length(public.sam_branch_name(repeat('supercalifragilistic ', 10), extensions.gen_random_uuid())) <= 60, 'at most 60 characters');
select ok(public.sam_is_valid_git_ref(public.sam_branch_name('Ünïcode -- words.. here/there ~x', extensions.gen_random_uuid())), 'always a valid git ref');
select ok(not public.sam_is_valid_git_ref('sam/a..b') and not public.sam_is_valid_git_ref('sam/-x') and not public.sam_is_valid_git_ref('x.lock'),
  'invalid refs are recognised');
select ok(public.is_terminal('completed'::public.task_status) and not public.is_terminal('in_progress'::public.task_status)
  and public.is_active('delegated'::public.task_status), 'predicates over task states');

-- Submit as the owner.
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Add rate limiting to uploads')::text$$) as r \gset
select is((:'r'::jsonb) ->> 'status', 'queued', 'submit returns a queued task');
select is((select count(*)::int from public.chat_sessions where id = ((:'r'::jsonb) ->> 'sessionId')::uuid and task_id = ((:'r'::jsonb) ->> 'taskId')::uuid), 1,
  'with its chat session');
select is((select content from public.messages where session_id = ((:'r'::jsonb) ->> 'sessionId')::uuid and message_id = 'initial'),
  'Add rate limiting to uploads', 'and the message as its first message');
select is((select triggered_by::text || '/' || dispatch_depth || '/' || task_mode from public.tasks where id = ((:'r'::jsonb) ->> 'taskId')::uuid),
  'user/0/task', 'lineage of a submitted task');
select is((select count(*)::int from public.task_events where task_id = ((:'r'::jsonb) ->> 'taskId')::uuid and from_status is null and to_status = 'queued'), 1,
  'and a null → queued event');
select pg_temp.run_as('owner', format($$select public.submit_task('22222222-0000-0000-0000-000000000001', %L)::text$$, repeat('long message ', 20))) as r2 \gset
select is((select count(*)::int from public.orchestrator_jobs where kind = 'generate_title' and task_id = ((:'r2'::jsonb) ->> 'taskId')::uuid), 1,
  'a message over 100 characters queues a title refinement');

-- Cancel, repeat, re-run, run.
\set t '''44444444-0000-0000-0000-000000000003'''
select is(pg_temp.run_as('owner', $$select public.cancel_task('44444444-0000-0000-0000-000000000003', 'changed my mind')::text$$), 'true', 'cancel moves');
select is(pg_temp.run_as('owner', $$select public.cancel_task('44444444-0000-0000-0000-000000000003')::text$$), 'false', 'a repeated cancel changes nothing');
select is((select count(*)::int from public.task_events where task_id = :t and to_status = 'cancelled'), 1, 'and writes no second event');
select ok((select revoked_at is not null from public.tokens where jti = '88888888-0000-0000-0000-000000000023'), 'cancel revokes the task''s agent tokens');
select is((select status::text from public.workspaces where id = '55555555-0000-0000-0000-000000000003'), 'stopping', 'and stops its workspace');
select is(pg_temp.run_as('owner', $$select public.rerun_task('44444444-0000-0000-0000-000000000003')::text$$), 'true', 'cancelled → ready');
select is(pg_temp.run_as('owner', $$select public.run_task('44444444-0000-0000-0000-000000000003')::text$$), 'true', 'ready → queued');
select matches(pg_temp.run_as('owner', $$select public.ready_task('44444444-0000-0000-0000-000000000003')::text$$), '^ERROR 55000',
  'a move the machine does not allow is refused');

-- Steps move forward only.
select is(public.sam_task_step('44444444-0000-0000-0000-000000000001', 'node_selection'), false, 'a step never goes backwards');
select is(public.sam_task_step('44444444-0000-0000-0000-000000000001', 'running'), false, 'a repeated step changes nothing');

-- Dispatch by the agent working on T1.
select pg_temp.run_as('agent A1', $$select public.dispatch_task('Write the docs for rate limiting')::text$$) as d \gset
select is((select triggered_by::text || '/' || dispatch_depth || '/' || parent_task_id || '/' || dispatched_by_agent_session_id
             from public.tasks where id = ((:'d'::jsonb) ->> 'taskId')::uuid),
  'mcp/1/44444444-0000-0000-0000-000000000001/77777777-0000-0000-0000-000000000001', 'a dispatched task records its lineage');
insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'max_active_children', '1');
select matches(pg_temp.run_as('agent A1', $$select public.dispatch_task('And the changelog')::text$$), '^ERROR 54000',
  'dispatch beyond the per-task limit (a project override) is refused');
insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'max_dispatch_depth', '1');
select throws_ok(format($$select public.dispatch_task('grandchild', '{"parentTaskId": "%s"}')$$, (:'d'::jsonb) ->> 'taskId'), '54000',
  null, 'dispatch beyond the depth limit is refused');

-- Complete by the agent; repeat.
select is(pg_temp.run_as('agent A1', $$select public.complete_task(null, 'Rate limiting added', 'https://github.com/owner/p1/pull/1')::text$$), 'true',
  'the agent completes its task');
select is(pg_temp.run_as('agent A1', $$select public.complete_task(null, 'again')::text$$), 'false', 'a repeated completion changes nothing');
select is((select summary || ' ' || pr_url from public.tasks where id = '44444444-0000-0000-0000-000000000001'),
  'Rate limiting added https://github.com/owner/p1/pull/1', 'summary and PR recorded once');
select is((select count(*)::int from public.notifications where task_id = '44444444-0000-0000-0000-000000000001' and type = 'task_complete'), 1,
  'one task_complete notification');
select matches(pg_temp.run_as('owner', $$select public.cancel_task('44444444-0000-0000-0000-000000000001')::text$$), '^ERROR 55000',
  'a completed task cannot be cancelled');

-- Retry and fork.
select is(public.fail_task('44444444-0000-0000-0000-000000000002', 'boom'), true, 'the system fails a task');
select pg_temp.run_as('other user', $$select public.retry_task('44444444-0000-0000-0000-000000000002')::text$$) as rt \gset
select is((select triggered_by::text || '/' || parent_task_id || '/' || source_task_id from public.tasks where id = ((:'rt'::jsonb) ->> 'taskId')::uuid),
  'retry/44444444-0000-0000-0000-000000000002/44444444-0000-0000-0000-000000000002', 'a retry is triggered_by retry, from its source');
select is(pg_temp.run_as('other user', $$select public.retry_task('44444444-0000-0000-0000-000000000002') ->> 'taskId'$$), (:'rt'::jsonb) ->> 'taskId',
  'repeating a retry returns the attempt already running');
select pg_temp.run_as('owner', $$select public.fork_task('44444444-0000-0000-0000-000000000001', 'Now add metrics')::text$$) as fk \gset
select is((select triggered_by::text || '/' || base_branch from public.tasks where id = ((:'fk'::jsonb) ->> 'taskId')::uuid),
  'fork/sam/t1-000001', 'a fork is triggered_by fork and starts from the source branch');
select ok((select revoked_at is not null from public.tokens where jti = '88888888-0000-0000-0000-000000000022'), 'failing revokes agent tokens');
select is((select count(*)::int from public.messages where session_id = '66666666-0000-0000-0000-000000000002' and message_id = 'task-failed'), 1,
  'and tells the chat');

-- Conversation mode: complete_task waits for the human instead.
update public.tasks set task_mode = 'conversation' where id = '44444444-0000-0000-0000-000000000003';
update public.tasks set status = 'in_progress', execution_step = 'running' where id = '44444444-0000-0000-0000-000000000003';
select is(public.complete_task('44444444-0000-0000-0000-000000000003', 'my turn is done'), true, 'a conversation finishing its turn');
select is((select status::text || '/' || execution_step from public.tasks where id = '44444444-0000-0000-0000-000000000003'), 'in_progress/awaiting_followup',
  'stays active, awaiting follow-up');

select * from finish();
rollback;
