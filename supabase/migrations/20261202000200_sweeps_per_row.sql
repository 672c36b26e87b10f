-- No sweep jams on one row: each sweep handles its candidates one by one, each in its own
-- subtransaction, and a row whose transition raises is skipped with a warning (left for the next
-- run) instead of rolling back the whole run for every tenant. Candidates are still chosen as in
-- parts 15 and 16 (partial indexes, sweep_batch, skip locked); settings are read through
-- setting(), which ignores unreadable overrides (20261202000100_typed_settings). A step timeout's
-- reason names the limit of the task's own project. Safe to run twice.

create or replace function public.sweep_warm_nodes() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id from public.nodes where status = 'warm' and warm_until <= public.sam_now()
            order by warm_until limit public.setting_int('sweep_batch') for update skip locked loop
    begin
      if public.destroy_node(r.id, 'warm timeout') then n := n + 1; end if;
    exception when others then
      raise warning 'sweep_warm_nodes: node % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  return n;
end $$;

create or replace function public.sweep_idle_nodes() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id from public.nodes x
            where status in ('ready', 'active', 'warm', 'unhealthy')
              and last_activity_at <= public.sam_now() - public.setting_interval('idle_node_lifetime')
              and not exists (select 1 from public.workspaces w where w.node_id = x.id and w.status in ('creating', 'ready', 'stopping'))
            order by last_activity_at limit public.setting_int('sweep_batch') for update skip locked loop
    begin
      if public.destroy_node(r.id, 'idle lifetime') then n := n + 1; end if;
    exception when others then
      raise warning 'sweep_idle_nodes: node % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  return n;
end $$;

create or replace function public.sweep_node_lifetime() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id from public.nodes
            where status in ('provisioning', 'ready', 'active', 'warm', 'unhealthy')
              and last_activity_at <= public.sam_now() - public.setting_interval('node_absolute_lifetime')
            order by last_activity_at limit public.setting_int('sweep_batch') for update skip locked loop
    begin
      if public.destroy_node(r.id, 'no workspace activity within the absolute lifetime') then n := n + 1; end if;
    exception when others then
      raise warning 'sweep_node_lifetime: node % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  return n;
end $$;

create or replace function public.sweep_stale_heartbeats() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id from public.nodes where status in ('ready', 'active', 'warm')
              and last_heartbeat_at <= public.sam_now() - public.setting_interval('heartbeat_stale')
            order by last_heartbeat_at limit public.setting_int('sweep_batch') for update skip locked loop
    begin
      if public.mark_node_unhealthy(r.id, 'stale heartbeat') then n := n + 1; end if;
    exception when others then
      raise warning 'sweep_stale_heartbeats: node % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  return n;
end $$;

create or replace function public.sweep_step_timeouts() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0; lim integer := public.setting_int('sweep_batch'); now_ timestamptz := public.sam_now();
begin
  for r in
    with rules(step, key) as (values ('node_provisioning'::public.task_step, 'provisioning_timeout'),
                                     ('node_agent_ready', 'agent_ready_timeout'),
                                     ('workspace_creation', 'workspace_ready_timeout'),
                                     ('workspace_ready', 'workspace_ready_timeout'))
    select c.id, c.step, c.key, c.project_id from rules
    cross join lateral (
      select t.id, rules.step, rules.key, t.project_id, t.step_changed_at from public.tasks t
       where t.status in ('queued', 'delegated', 'in_progress') and t.execution_step = rules.step
         and t.step_changed_at <= now_ - public.sam_min_interval(rules.key)
       order by t.step_changed_at limit lim) c
    where c.step_changed_at <= now_ - public.setting_interval(c.key, c.project_id)
    limit lim
  loop
    begin
      if public.fail_task(r.id, format('Timed out at step %s after %s', r.step,
                                       public.setting_interval(r.key, r.project_id))) then
        n := n + 1;
      end if;
    exception when others then
      raise warning 'sweep_step_timeouts: task % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  for r in select t.id from public.tasks t
            where t.status = 'queued' and t.status_changed_at <= now_ - public.sam_min_interval('queued_timeout')
              and t.status_changed_at <= now_ - public.setting_interval('queued_timeout', t.project_id)
            order by t.status_changed_at limit lim loop
    begin
      if public.fail_task(r.id, 'Timed out waiting in the queue') then n := n + 1; end if;
    exception when others then
      raise warning 'sweep_step_timeouts: task % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  -- Machines that never registered.
  for r in select id from public.nodes where status = 'provisioning'
              and status_changed_at <= now_ - public.setting_interval('provisioning_timeout')
            order by status_changed_at limit lim for update skip locked loop
    begin
      if public.destroy_node(r.id, 'provisioning timeout') then n := n + 1; end if;
    exception when others then
      raise warning 'sweep_step_timeouts: node % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  return n;
end $$;

create or replace function public.sweep_orchestrator_jobs() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id from public.orchestrator_jobs where status = 'running' and locked_until <= public.sam_now()
            order by locked_until limit public.setting_int('sweep_batch') for update skip locked loop
    begin
      perform public.fail_orchestrator_job(r.id, 'lease expired');
      n := n + 1;
    exception when others then
      raise warning 'sweep_orchestrator_jobs: job % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
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
    begin
      update public.human_input_requests set status = 'expired' where id = r.id and status = 'pending';
      if found then
        insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id)
        values ('human_input', r.id, r.owner_id, r.project_id, 'pending', 'expired', 'system', public.sam_actor_id());
        n := n + 1;
      end if;
    exception when others then
      raise warning 'sweep_human_input: question % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  return n;
end $$;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
