-- The task tree, live: every task of a project — a root, an agent's sub-task, a retry — is
-- broadcast on the project's topic as `task` (the sub-task with its parent), and a question, a
-- permission request or a budget pause is broadcast there as `attention` when it opens and closes.
begin;
\ir _fixtures.psql
select plan(9);

delete from realtime.messages;
select pg_temp.run_as('agent A1', $$select public.dispatch_task('Write the docs') ->> 'taskId'$$) as child \gset
select is((select payload ->> 'parentTaskId' from realtime.messages
            where topic = 'project:22222222-0000-0000-0000-000000000001' and event = 'task' and payload ->> 'taskId' = :'child'
            order by id limit 1),
  '44444444-0000-0000-0000-000000000001', 'a dispatched sub-task is broadcast on its project topic, with its parent');

select public.fail_task(:'child', 'broke');
delete from realtime.messages;
select pg_temp.run_as('owner', format($$select public.retry_task(%L) ->> 'taskId'$$, :'child')) as retry \gset
select ok(exists (select 1 from realtime.messages where topic = 'project:22222222-0000-0000-0000-000000000001'
                   and event = 'task' and payload ->> 'taskId' = :'retry'),
  'so is the user''s retry of it');
select is((select classification || ' of ' || source_task_id from public.task_lineage where task_id = :'retry'),
  'retry of ' || :'child', 'which the lineage classifies as a retry of the sub-task');

-- Attention: a question opens and is answered.
delete from realtime.messages;
select pg_temp.run_as('agent A1', $$select public.request_human_input('Which database?', 'decision', '["pg", "sqlite"]')$$) as q \gset
select is((select payload ->> 'kind' || ' ' || (payload ->> 'pending') || ' ' || (payload ->> 'taskId') from realtime.messages
            where topic = 'project:22222222-0000-0000-0000-000000000001' and event = 'attention'),
  'question true 44444444-0000-0000-0000-000000000001', 'an agent''s question is broadcast as pending attention');
delete from realtime.messages;
select is(pg_temp.run_as('owner', format($$select public.answer_human_input(%L, 'pg')::text$$, :'q')), 'true', 'the owner answers');
select is((select string_agg(payload ->> 'kind' || ' ' || (payload ->> 'pending'), ',') from realtime.messages where event = 'attention'),
  'question false', 'and the answer closes it');

-- A permission request answered; an update that leaves it pending says nothing.
delete from realtime.messages;
update public.permission_requests set status = 'pending' where id = '99999999-0000-0000-0000-000000000701';
select is((select count(*)::int from realtime.messages where event = 'attention'), 0, 'no change, no broadcast');
select pg_temp.run_as('owner', $$select public.answer_permission_request('99999999-0000-0000-0000-000000000701', 'allow_once')::text$$);
select is((select string_agg(payload ->> 'kind' || ' ' || (payload ->> 'pending'), ',') from realtime.messages where event = 'attention'),
  'permission false', 'an answered permission request closes its attention');

-- A budget pause.
delete from realtime.messages;
select public.sam_budget_pause('44444444-0000-0000-0000-000000000003', 'the budget of 10 agent turns is used');
select is((select payload ->> 'kind' || ' ' || (payload ->> 'pending') || ' ' || (payload ->> 'taskId') from realtime.messages
            where topic = 'project:22222222-0000-0000-0000-000000000001' and event = 'attention'),
  'budget true 44444444-0000-0000-0000-000000000003', 'a task paused at its budget needs its owner');

select * from finish();
rollback;
