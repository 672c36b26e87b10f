-- Destroying a busy node: its owner may, the sweeps do, and what ran on it ends with a reason
-- (workspaces and agent sessions failed, tasks failed, the claim not handed back to a dying node).
begin;
\ir _fixtures.psql
select plan(19);

-- A running task on a warm node it claimed: workspace ready, agent session idle.
create function pg_temp.busy_claimed_node(p_node uuid, p_owner uuid, p_project uuid) returns uuid language plpgsql as $$
declare r jsonb; ws uuid; ag jsonb;
begin
  insert into public.nodes (id, owner_id, status, warm_since, warm_until, last_heartbeat_at)
  values (p_node, p_owner, 'warm', now(), now() + interval '30 minutes', now());
  perform set_config('request.jwt.claims', jsonb_build_object('role', 'authenticated', 'sub', p_owner)::text, true);
  perform set_config('role', 'authenticated', true);
  r := public.submit_task(p_project, 'Work on the claimed node');
  reset role;
  perform set_config('request.jwt.claims', '', true);
  select workspace_id into ws from public.tasks where id = (r ->> 'taskId')::uuid;
  perform public.workspace_ready(ws);
  ag := public.start_agent_session(null, ws);
  perform public.agent_session_ready((ag ->> 'agentSessionId')::uuid);
  return (r ->> 'taskId')::uuid;
end $$;

select pg_temp.busy_claimed_node('33333333-0000-0000-0000-0000000000c1', '11111111-0000-0000-0000-000000000001',
  '22222222-0000-0000-0000-000000000001') as t1 \gset
select is((select status::text || '/' || claimed_warm_node_id from public.tasks where id = :'t1'),
  'in_progress/33333333-0000-0000-0000-0000000000c1', 'a task runs on the warm node it claimed');

-- The owner destroys it.
select is(pg_temp.run_as('owner', $$select public.destroy_node('33333333-0000-0000-0000-0000000000c1', 'no longer needed')::text$$), 'true',
  'the owner destroys a node while a workspace on it is live');
select is((select status::text from public.nodes where id = '33333333-0000-0000-0000-0000000000c1'), 'destroying', 'the node is destroying');
select is((select status::text || ': ' || error_message from public.workspaces where task_id = :'t1'),
  'failed: node destroyed: no longer needed', 'its workspace failed, saying why');
select is((select string_agg(status::text || ': ' || coalesce(error_message, ''), ',') from public.agent_sessions where task_id = :'t1'),
  'failed: node destroyed: no longer needed', 'its agent session failed, saying why');
select is((select status::text || ': ' || error_message from public.tasks where id = :'t1'),
  'failed: node destroyed: no longer needed', 'its task failed, saying why');
select is((select count(*)::int from public.messages m join public.tasks t on t.chat_session_id = m.session_id
            where t.id = :'t1' and m.message_id = 'task-failed' and m.content like '%node destroyed: no longer needed'), 1,
  'and the chat says so');
select is((select count(*)::int from public.tokens where task_id = :'t1' and revoked_at is null), 0, 'no token of the task is left valid');
select is((select count(*)::int from public.lifecycle_events where entity_id = '33333333-0000-0000-0000-0000000000c1' and to_state = 'warm'), 0,
  'the claim was not handed back to the dying node');
select is((select count(*)::int from public.orchestrator_jobs where node_id = '33333333-0000-0000-0000-0000000000c1' and kind = 'destroy_node'), 1,
  'one destroy_node job');
select is(pg_temp.run_as('owner', $$select public.destroy_node('33333333-0000-0000-0000-0000000000c1', 'again')::text$$), 'false',
  'destroying again changes nothing');
select is(pg_temp.run_as('other user', $$select public.destroy_node('33333333-0000-0000-0000-000000000001', 'mine now')$$),
  'ERROR 42501: not allowed to destroy node 33333333-0000-0000-0000-000000000001', 'another user still may not');

-- A task waiting for a node being provisioned fails with the node instead of timing out later.
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Needs a machine')::text$$) as w \gset
select is(pg_temp.run_as('owner', format($$select public.destroy_node(%L, 'changed my mind')::text$$,
  (select auto_provisioned_node_id from public.tasks where id = ((:'w'::jsonb) ->> 'taskId')::uuid))), 'true', 'the owner destroys a provisioning node');
select is((select status::text || ': ' || error_message from public.tasks where id = ((:'w'::jsonb) ->> 'taskId')::uuid),
  'failed: node destroyed: changed my mind', 'the task waiting for it fails with the reason');

-- The sweeps: two busy claimed nodes of two users, silent for the absolute lifetime.
select pg_temp.busy_claimed_node('33333333-0000-0000-0000-0000000000c2', '11111111-0000-0000-0000-000000000001',
  '22222222-0000-0000-0000-000000000001') as t2 \gset
select pg_temp.busy_claimed_node('33333333-0000-0000-0000-0000000000c3', '11111111-0000-0000-0000-000000000002',
  '22222222-0000-0000-0000-000000000002') as t3 \gset
set local sam.now = '2999-01-01T00:00:00Z';
select lives_ok($$select public.sweep_node_lifetime()$$, 'sweep_node_lifetime takes busy claimed nodes without raising');
select is((select string_agg(status::text, ',' order by id) from public.nodes
            where id in ('33333333-0000-0000-0000-0000000000c2', '33333333-0000-0000-0000-0000000000c3')),
  'destroying,destroying', 'both nodes are destroying');
select is((select string_agg(status::text, ',' order by title, id) from public.tasks where id in (:'t2', :'t3')),
  'failed,failed', 'and their tasks failed');
select is(public.sweep_node_lifetime(), 0, 'the next run finds nothing left to do');
select is(public.sweep_idle_nodes() + public.sweep_warm_nodes() + public.sweep_stale_heartbeats(), 0,
  'nor do the other node sweeps');

select * from finish();
rollback;
