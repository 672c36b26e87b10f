-- Lineage views: a tree with depth and classification, a timeline, what each agent dispatched;
-- read under RLS (security_invoker).
begin;
\ir _fixtures.psql
select plan(7);

select pg_temp.run_as('agent A1', $$select public.dispatch_task('Child of T1') ->> 'taskId'$$) as child \gset
select public.fail_task(:'child', 'broke');
select pg_temp.run_as('agent A1', format($$select public.retry_task(%L) ->> 'taskId'$$, :'child')) as retry \gset
select public.complete_task('44444444-0000-0000-0000-000000000001', 'done');
select pg_temp.run_as('owner', $$select public.fork_task('44444444-0000-0000-0000-000000000001', 'Follow up') ->> 'taskId'$$) as fork \gset

select is((select string_agg(classification || ':' || tree_depth, ',' order by tree_depth, classification)
             from public.task_lineage where root_task_id = '44444444-0000-0000-0000-000000000001'),
  'root:0,fork:1,retry:1,sub-task:1', 'the tree classifies root, sub-task, retry and fork with depths');
select is((select source_task_id from public.task_lineage where task_id = :'retry'), :'child'::uuid, 'a retry points at the attempt it replaces');
select is(pg_temp.run_as('other user', $$select count(*) from public.task_lineage where root_task_id = '44444444-0000-0000-0000-000000000001'$$), '0',
  'another user sees none of it');
select ok((select count(*) from public.task_timeline where task_id = :'child') >= 3, 'a task''s timeline has its events and messages');
select is((select string_agg(source || ':' || coalesce(to_state, ''), ',' order by at, seq) from public.task_timeline
             where task_id = :'child' and source = 'task'), 'task:queued / node_selection,task:queued / node_provisioning,task:failed',
  'in order');
select is((select count(*)::int from public.agent_dispatches where agent_session_id = '77777777-0000-0000-0000-000000000001'), 2,
  'the agent dispatched a child and its retry');
select is(pg_temp.run_as('owner', $$select count(*) from public.agent_dispatches$$), '2', 'the owner sees them');

select * from finish();
rollback;
