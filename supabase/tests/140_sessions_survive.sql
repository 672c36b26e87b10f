-- Sessions that survive, and work that cannot get stuck, under frozen time (sam.now):
-- agent_session_recovered (recovering -> idle, the task awaits a follow-up, the owner is told),
-- the step timeouts of agent_session, running (with a project override) and awaiting_followup
-- (counted from the workspace's last activity), and the dead-heartbeat sweep that fails a silent
-- node's workspaces in words the chat shows.
begin;
\ir _fixtures.psql
select plan(37);
create function pg_temp.at(p_offset interval) returns void language sql as $$
  select set_config('sam.now', (date_trunc('minute', now()) + interval '1 minute' + p_offset)::text, true)::text is not null
$$;
-- N1 keeps heartbeating throughout: only the node under test goes silent.
create function pg_temp.n1_alive() returns void language sql as $$
  update public.nodes set last_heartbeat_at = public.sam_now() where id = '33333333-0000-0000-0000-000000000001'
$$;

-- agent_session_recovered -------------------------------------------------------------------------
select pg_temp.at('0');
update public.tasks set step_changed_at = public.sam_now(), status_changed_at = public.sam_now();
select is(pg_temp.run_as('workspace W1', $$select public.agent_session_recovering('77777777-0000-0000-0000-000000000001', 'agent crashed: EOF')::text$$),
  'true', 'the workspace reports its agent recovering');
select is(pg_temp.run_as('other-project workspace W3', $$select public.agent_session_recovered('77777777-0000-0000-0000-000000000001')::text$$),
  'ERROR 42501: not allowed to act on agent session 77777777-0000-0000-0000-000000000001',
  'another workspace may not report it recovered');
select is(pg_temp.run_as('owner', $$select public.agent_session_recovered('77777777-0000-0000-0000-000000000001')::text$$) like 'ERROR 42501:%',
  true, 'nor may its owner (only the machine knows)');
select is((select status::text from public.agent_sessions where id = '77777777-0000-0000-0000-000000000001'), 'recovering',
  'still recovering after the refused calls');
select is(pg_temp.run_as('workspace W1', $$select public.agent_session_recovered('77777777-0000-0000-0000-000000000001', 'session loaded')::text$$),
  'true', 'its own workspace reports it recovered');
select is((select status::text from public.agent_sessions where id = '77777777-0000-0000-0000-000000000001'), 'idle',
  'recovering -> idle');
select is((select status::text || '/' || execution_step from public.tasks where id = '44444444-0000-0000-0000-000000000001'),
  'in_progress/awaiting_followup', 'the task waits for the follow-up');
select is((select step_changed_at from public.tasks where id = '44444444-0000-0000-0000-000000000001'), public.sam_now(),
  'from now');
select is((select count(*)::int from public.notifications where task_id = '44444444-0000-0000-0000-000000000001'
             and type = 'needs_input' and body like 'The agent crashed mid-turn and was recovered.%'), 1,
  'the owner is asked for a follow-up');
select is((select count(*)::int from public.lifecycle_events where entity_id = '77777777-0000-0000-0000-000000000001'
             and from_state = 'recovering' and to_state = 'idle' and reason = 'session loaded'), 1,
  'one recovering -> idle event with the reason');
select is(pg_temp.run_as('workspace W1', $$select public.agent_session_recovered('77777777-0000-0000-0000-000000000001')::text$$),
  'false', 'reported again: nothing to do');
select is((select count(*)::int from public.notifications where task_id = '44444444-0000-0000-0000-000000000001' and type = 'needs_input'
             and body like 'The agent crashed%'), 1, 'and no second notification');
update public.agent_sessions set status = 'prompting' where id = '77777777-0000-0000-0000-000000000003';
select is(pg_temp.run_as('same-node workspace W2', $$select public.agent_session_recovered('77777777-0000-0000-0000-000000000003')::text$$) like 'ERROR 55000:%',
  true, 'a prompting session was never recovering: refused');

-- Dead heartbeat ----------------------------------------------------------------------------------
-- N2 (W3, T2 running) goes silent; heartbeat_stale 180 s, heartbeat_dead 10 minutes.
select pg_temp.at('0');
update public.nodes set name = 'build-box-2', last_heartbeat_at = public.sam_now()
 where id = '33333333-0000-0000-0000-000000000002';
update public.tasks set step_changed_at = public.sam_now() where id = '44444444-0000-0000-0000-000000000002';
select pg_temp.at('3 minutes');
select pg_temp.n1_alive();
select ok(public.sweep_stale_heartbeats() >= 1, 'stale sweep at 3 min');
select is((select n.status::text || '/' || w.status::text from public.nodes n join public.workspaces w on w.node_id = n.id
            where n.id = '33333333-0000-0000-0000-000000000002'), 'unhealthy/ready',
  'silent 3 min: the node is unhealthy, its workspace still ready');
select pg_temp.at('9 minutes 59 seconds');
select pg_temp.n1_alive();
select ok(public.sweep_stale_heartbeats() >= 0, 'sweep at 9 min 59 s');
select is((select status::text from public.workspaces where id = '55555555-0000-0000-0000-000000000002'), 'ready',
  'silent 9 min 59 s: not yet given up');
select pg_temp.at('10 minutes');
select pg_temp.n1_alive();
select is(public.sweep_stale_heartbeats(), 1, 'silent 10 min: its one live workspace fails');
select is((select status::text from public.workspaces where id = '55555555-0000-0000-0000-000000000002'), 'failed', 'the workspace failed');
select is((select status::text from public.agent_sessions where id = '77777777-0000-0000-0000-000000000002'), 'failed',
  'its agent session failed');
select is((select error_message from public.tasks where id = '44444444-0000-0000-0000-000000000002'),
  format('The machine build-box-2 stopped sending heartbeats at %s and has been silent for 00:10:00; the work on it is lost. Re-run the task to start again.',
         to_char((public.sam_now() - interval '10 minutes') at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"')),
  'the task failed, saying which machine went silent, since when, and what to do');
select is((select count(*)::int from public.messages where session_id = '66666666-0000-0000-0000-000000000002'
             and message_id = 'task-failed' and content like 'Task failed at step "running": The machine build-box-2 stopped sending heartbeats%'),
  1, 'the chat says so');
select pg_temp.at('11 minutes');
select pg_temp.n1_alive();
select is(public.sweep_stale_heartbeats(), 0, 'nothing more on the next run');


-- Step timeouts -----------------------------------------------------------------------------------
-- agent_session (default 15 minutes): T1b's agent never became ready.
select pg_temp.at('0');
update public.tasks set execution_step = 'agent_session', step_changed_at = public.sam_now()
 where id = '44444444-0000-0000-0000-000000000003';
-- running, with P1's own limit of 2 hours: T4.
insert into public.tasks (id, project_id, owner_id, title, status, execution_step, branch, step_changed_at)
values ('44444444-0000-0000-0000-000000000004', '22222222-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000001',
        'T4', 'in_progress', 'running', 'sam/t4-000004', public.sam_now());
insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'running_timeout', '"2 hours"');
-- awaiting_followup (default 24 hours) counts from the workspace's last activity, 5 hours in.
update public.workspaces set last_activity_at = public.sam_now() + interval '5 hours'
 where id = '55555555-0000-0000-0000-000000000001';

select pg_temp.at('14 minutes 59 seconds');
select ok(public.sweep_step_timeouts() >= 0, 'sweep at 14 min 59 s');
select is((select status::text from public.tasks where id = '44444444-0000-0000-0000-000000000003'), 'in_progress',
  'an agent starting for 14 min 59 s: still waited for');
select pg_temp.at('15 minutes');
select ok(public.sweep_step_timeouts() >= 1, 'sweep at 15 min');
select is((select status::text || ': ' || error_message from public.tasks where id = '44444444-0000-0000-0000-000000000003'),
  'failed: The agent did not start within 00:15:00 (step agent_session)', 'failed at 15 min, saying why');
select is((select content from public.messages where session_id = '66666666-0000-0000-0000-000000000003' and message_id = 'task-failed'),
  'Task failed at step "agent_session": The agent did not start within 00:15:00 (step agent_session)', 'in the chat');

select pg_temp.at('1 hour 59 minutes');
select ok(public.sweep_step_timeouts() >= 0, 'sweep at 1 h 59 min');
select is((select status::text from public.tasks where id = '44444444-0000-0000-0000-000000000004'), 'in_progress',
  'running for 1 h 59 min under a 2 h limit: fine');
select pg_temp.at('2 hours');
select ok(public.sweep_step_timeouts() >= 1, 'sweep at 2 h');
select is((select status::text || ': ' || error_message from public.tasks where id = '44444444-0000-0000-0000-000000000004'),
  'failed: The task ran longer than its limit of 02:00:00 (step running)', 'the project''s own running limit, in words');

select pg_temp.at('28 hours 59 minutes');
select ok(public.sweep_step_timeouts() >= 0, 'sweep at 28 h 59 min');
select is((select status::text from public.tasks where id = '44444444-0000-0000-0000-000000000001'), 'in_progress',
  'waiting 28 h 59 min since the step, 23 h 59 min since the last activity: still waiting');
select pg_temp.at('29 hours');
select ok(public.sweep_step_timeouts() >= 1, 'sweep at 29 h');
select is((select status::text || ': ' || error_message from public.tasks where id = '44444444-0000-0000-0000-000000000001'),
  'failed: No follow-up came within 24:00:00 of the last activity (step awaiting_followup)',
  '24 h after the last activity the wait ends, in words');
select is(public.sweep_step_timeouts(), 0, 'and nothing more on the next run');

select * from finish();
rollback;
