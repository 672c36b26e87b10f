-- Control plane, part 16: step timeouts, job leases, question expiry, and the pg_cron schedule.

-- Steps past their timeout fail the task (ordered: queued 20 min > agent ready 15 min;
-- workspace ready 30 min). Candidates come from the partial index on (execution_step,
-- step_changed_at) bounded by the shortest configured value; each row is then checked against its
-- own project's value.
create or replace function public.sweep_step_timeouts() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0; lim integer := public.setting_int('sweep_batch'); now_ timestamptz := public.sam_now();
begin
  for r in
    with rules(step, key) as (values ('node_provisioning'::public.task_step, 'provisioning_timeout'),
                                     ('node_agent_ready', 'agent_ready_timeout'),
                                     ('workspace_creation', 'workspace_ready_timeout'),
                                     ('workspace_ready', 'workspace_ready_timeout'))
    select c.id, c.step, c.key from rules
    cross join lateral (
      select t.id, rules.step, rules.key, t.project_id, t.step_changed_at from public.tasks t
       where t.status in ('queued', 'delegated', 'in_progress') and t.execution_step = rules.step
         and t.step_changed_at <= now_ - public.sam_min_interval(rules.key)
       order by t.step_changed_at limit lim) c
    where c.step_changed_at <= now_ - public.setting_interval(c.key, c.project_id)
    limit lim
  loop
    if public.fail_task(r.id, format('Timed out at step %s after %s', r.step, public.setting_interval(r.key))) then
      n := n + 1;
    end if;
  end loop;
  for r in select t.id from public.tasks t
            where t.status = 'queued' and t.status_changed_at <= now_ - public.sam_min_interval('queued_timeout')
              and t.status_changed_at <= now_ - public.setting_interval('queued_timeout', t.project_id)
            order by t.status_changed_at limit lim loop
    if public.fail_task(r.id, 'Timed out waiting in the queue') then n := n + 1; end if;
  end loop;
  -- Machines that never registered.
  for r in select id from public.nodes where status = 'provisioning'
              and status_changed_at <= now_ - public.setting_interval('provisioning_timeout')
            order by status_changed_at limit lim for update skip locked loop
    if public.destroy_node(r.id, 'provisioning timeout') then n := n + 1; end if;
  end loop;
  return n;
end $$;

-- Jobs whose worker vanished: the lease ran out, so the attempt counts as failed (and retries).
create or replace function public.sweep_orchestrator_jobs() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id from public.orchestrator_jobs where status = 'running' and locked_until <= public.sam_now()
            order by locked_until limit public.setting_int('sweep_batch') for update skip locked loop
    perform public.fail_orchestrator_job(r.id, 'lease expired'); n := n + 1;
  end loop;
  return n;
end $$;

create or replace function public.sweep_human_input() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id, owner_id, project_id from public.human_input_requests
            where status = 'pending' and expires_at <= public.sam_now()
            order by expires_at limit public.setting_int('sweep_batch') for update skip locked loop
    update public.human_input_requests set status = 'expired' where id = r.id and status = 'pending';
    if found then
      insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id)
      values ('human_input', r.id, r.owner_id, r.project_id, 'pending', 'expired', 'system', public.sam_actor_id());
      n := n + 1;
    end if;
  end loop;
  return n;
end $$;

revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;

-- pg_cron 1.4: minute schedules only. Scheduled only when missing or different, so a re-run leaves
-- cron.job and its id sequence untouched.
create or replace function pg_temp.ensure_cron(p_name text, p_schedule text, p_command text) returns void
language plpgsql as $$
begin
  if not exists (select 1 from cron.job where jobname = p_name and schedule = p_schedule and command = p_command) then
    perform cron.schedule(p_name, p_schedule, p_command);
  end if;
end $$;
select pg_temp.ensure_cron('sam-sweep-warm-nodes', '* * * * *', 'select public.sweep_warm_nodes()');
select pg_temp.ensure_cron('sam-sweep-stale-heartbeats', '* * * * *', 'select public.sweep_stale_heartbeats()');
select pg_temp.ensure_cron('sam-sweep-step-timeouts', '* * * * *', 'select public.sweep_step_timeouts()');
select pg_temp.ensure_cron('sam-sweep-orchestrator-jobs', '* * * * *', 'select public.sweep_orchestrator_jobs()');
select pg_temp.ensure_cron('sam-sweep-idle-nodes', '*/5 * * * *', 'select public.sweep_idle_nodes()');
select pg_temp.ensure_cron('sam-sweep-node-lifetime', '*/5 * * * *', 'select public.sweep_node_lifetime()');
select pg_temp.ensure_cron('sam-sweep-human-input', '*/5 * * * *', 'select public.sweep_human_input()');
