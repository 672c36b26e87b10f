-- Sweeps under frozen time (sam.now): each acts once, at its threshold, never before.
begin;
\ir _fixtures.psql
select plan(26);
create function pg_temp.at(p_offset interval) returns void language sql as $$
  select set_config('sam.now', (date_trunc('minute', now()) + interval '1 minute' + p_offset)::text, true)::text is not null
$$;
select pg_temp.at('0');

-- Warm expiry: exactly once.
insert into public.nodes (id, owner_id, status, last_heartbeat_at, agent_ready_at)
values ('33333333-0000-0000-0000-0000000000b1', '11111111-0000-0000-0000-000000000002', 'active', public.sam_now(), public.sam_now());
select is(public.sam_node_go_warm('33333333-0000-0000-0000-0000000000b1', 'idle'), true, 'a node goes warm');
select pg_temp.at('29 minutes');
update public.nodes set last_heartbeat_at = public.sam_now() where id = '33333333-0000-0000-0000-0000000000b1';
select is((select public.sweep_warm_nodes() >= 0 and status = 'warm' from public.nodes where id = '33333333-0000-0000-0000-0000000000b1'), true,
  'still warm at 29 minutes');
select pg_temp.at('30 minutes');
select is(public.sweep_warm_nodes(), 1, 'expired at 30 minutes');
select is(public.sweep_warm_nodes(), 0, 'and only once');
select pg_temp.at('35 minutes');
select is(public.sweep_warm_nodes(), 0, 'not again later');
select is((select count(*)::int from public.lifecycle_events where entity_id = '33333333-0000-0000-0000-0000000000b1' and to_state = 'destroying'), 1,
  'one warm → destroying event');
select is((select count(*)::int from public.orchestrator_jobs where node_id = '33333333-0000-0000-0000-0000000000b1' and kind = 'destroy_node'), 1,
  'one destroy_node job');

-- Absolute ceiling: a node that heartbeats every minute but has no workspace activity for 24 h.
select pg_temp.at('0');
update public.nodes set last_activity_at = public.sam_now(), last_heartbeat_at = public.sam_now() where id = '33333333-0000-0000-0000-000000000002';
do $$
declare h integer;
begin
  for h in 1..47 loop  -- every 30 minutes (the node token slides by 1 h on each heartbeat)
    perform pg_temp.at(make_interval(mins => 30 * h));
    perform pg_temp.run_as('node N2', 'select public.node_heartbeat()::text');
    perform public.sweep_stale_heartbeats(); perform public.sweep_idle_nodes(); perform public.sweep_node_lifetime();
  end loop;
end $$;
select is((select status::text from public.nodes where id = '33333333-0000-0000-0000-000000000002'), 'active',
  'heartbeating for 23 h 30 min with a live but silent workspace: still there');
select is((select last_activity_at from public.nodes where id = '33333333-0000-0000-0000-000000000002'),
  date_trunc('minute', now()) + interval '1 minute', 'heartbeats never counted as activity');
select pg_temp.at('24 hours');
select is(pg_temp.run_as('node N2', $$select public.node_heartbeat() ->> 'status'$$), 'active', 'it heartbeats at 24 h');
select is(public.sweep_node_lifetime() >= 1, true, 'the absolute ceiling sweep takes it');
select is((select status::text from public.nodes where id = '33333333-0000-0000-0000-000000000002'), 'destroying', 'the node is destroyed');
select is((select status::text from public.workspaces where id = '55555555-0000-0000-0000-000000000002'), 'failed', 'its workspace failed');
select is((select status::text from public.tasks where id = '44444444-0000-0000-0000-000000000002'), 'failed', 'and its task failed');

-- Idle lifetime: 4 h without a live workspace and without activity.
select pg_temp.at('0');
insert into public.nodes (id, owner_id, status, last_heartbeat_at, agent_ready_at)
values ('33333333-0000-0000-0000-0000000000b2', '11111111-0000-0000-0000-000000000002', 'ready', public.sam_now(), public.sam_now());
select pg_temp.at('3 hours 59 minutes');
update public.nodes set last_heartbeat_at = public.sam_now() where id = '33333333-0000-0000-0000-0000000000b2';
select ok(public.sweep_idle_nodes() >= 0, 'idle sweep at 3 h 59 min');
select is((select status::text from public.nodes where id = '33333333-0000-0000-0000-0000000000b2'), 'ready', 'an idle node lives 3 h 59 min');
select pg_temp.at('4 hours');
select ok(public.sweep_idle_nodes() >= 1, 'idle sweep at 4 h');
select is((select status::text from public.nodes where id = '33333333-0000-0000-0000-0000000000b2'), 'destroying', 'and is destroyed at 4 h');

-- Stale heartbeat: unhealthy after 180 s, healthy again on the next heartbeat.
select pg_temp.at('0');
insert into public.nodes (id, owner_id, status, last_heartbeat_at, agent_ready_at)
values ('33333333-0000-0000-0000-0000000000b3', '11111111-0000-0000-0000-000000000002', 'active', public.sam_now(), public.sam_now());
insert into public.tokens (jti, kind, owner_id, node_id, expires_at)
values ('88888888-0000-0000-0000-0000000000b3', 'node', '11111111-0000-0000-0000-000000000002', '33333333-0000-0000-0000-0000000000b3', public.sam_now() + interval '1 hour');
insert into identities values ('node B3', 'sam_node', '{"role":"sam_node","jti":"88888888-0000-0000-0000-0000000000b3","node_id":"33333333-0000-0000-0000-0000000000b3"}');
select pg_temp.at('179 seconds');
select ok(public.sweep_stale_heartbeats() >= 0, 'stale sweep at 179 s');
select is((select status::text from public.nodes where id = '33333333-0000-0000-0000-0000000000b3'), 'active', 'silent for 179 s: fine');
select pg_temp.at('180 seconds');
select ok(public.sweep_stale_heartbeats() >= 1, 'stale sweep at 180 s');
select is((select status::text from public.nodes where id = '33333333-0000-0000-0000-0000000000b3'), 'unhealthy', 'silent for 180 s: unhealthy');
select is(pg_temp.run_as('node B3', $$select public.node_heartbeat() ->> 'status'$$), 'warm', 'a heartbeat brings it back (warm: it has no workspace)');

-- Step timeouts, with a project override.
select pg_temp.at('0');
update public.tasks set status = 'queued', execution_step = 'node_provisioning', step_changed_at = public.sam_now(), status_changed_at = public.sam_now()
 where id in ('44444444-0000-0000-0000-000000000001', '44444444-0000-0000-0000-000000000003');
insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'provisioning_timeout', '"5 minutes"');
select pg_temp.at('5 minutes');
select is(public.sweep_step_timeouts(), 2, 'both provisioning steps of the project with a 5 min override time out at 5 min');
select is((select error_message from public.tasks where id = '44444444-0000-0000-0000-000000000001'),
  'Timed out at step node_provisioning after 00:05:00', 'with the reason (the project''s own limit)');
select is(public.sweep_step_timeouts(), 0, 'and nothing happens on the next run');

select * from finish();
rollback;
