-- Control plane, part 15: orchestrator jobs (claim, finish, retry with backoff) and the sweeps
-- pg_cron runs. Every sweep reads `now` from sam_now(), handles at most `sweep_batch` rows per run
-- through a partial index, skips rows another sweep holds, and acts through the same guarded
-- transition functions (so a second run finds nothing to do).

-- A node going away takes its live workspaces (and their tasks) with it. Replaces part 10's version.
create or replace function public.destroy_node(p_node uuid, p_reason text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare n public.nodes; moved boolean; w record;
begin
  select * into n from public.nodes where id = p_node;
  if n.id is null or not (public.sam_caller() = 'system' or (public.sam_caller() = 'user' and n.owner_id = auth.uid())) then
    raise exception 'not allowed to destroy node %', p_node using errcode = '42501';
  end if;
  moved := public.sam_node_move(p_node, array['provisioning', 'ready', 'active', 'warm', 'unhealthy', 'failed']::public.node_status[],
                                'destroying', p_reason);
  if moved then
    update public.tokens set revoked_at = public.sam_now(), revoked_reason = 'node destroyed'
     where node_id = p_node and revoked_at is null;
    for w in select id from public.workspaces where node_id = p_node and status in ('creating', 'ready', 'stopping') loop
      perform public.workspace_failed('node destroyed: ' || p_reason, w.id);
    end loop;
    perform public.sam_enqueue_job('destroy_node', n.owner_id, null, null, p_node,
      jsonb_build_object('provider', n.provider, 'providerInstanceId', n.provider_instance_id), 'destroy_node:' || p_node);
  end if;
  return moved;
end $$;

create or replace function public.claim_orchestrator_jobs(p_limit integer default 10, p_kinds text[] default null)
returns setof public.orchestrator_jobs language sql security definer set search_path = '' as $$
  update public.orchestrator_jobs j set status = 'running', attempts = j.attempts + 1, updated_at = public.sam_now(),
         locked_until = public.sam_now() + public.setting_interval('job_lease')
   where j.id in (select id from public.orchestrator_jobs where status = 'pending' and run_after <= public.sam_now()
                    and (p_kinds is null or kind = any(p_kinds))
                  order by run_after limit least(greatest(p_limit, 1), 100) for update skip locked)
  returning j.*
$$;

create or replace function public.complete_orchestrator_job(p_job uuid, p_result jsonb default null) returns boolean
language sql security definer set search_path = '' as $$
  update public.orchestrator_jobs set status = 'succeeded', finished_at = public.sam_now(), updated_at = public.sam_now(),
         locked_until = null, payload = case when p_result is null then payload else payload || jsonb_build_object('result', p_result) end
   where id = p_job and status = 'running'
  returning true
$$;

-- Failure: back to pending after base·2^(attempts−1) (capped), or dead after max_attempts.
create or replace function public.fail_orchestrator_job(p_job uuid, p_error text) returns public.job_status
language plpgsql security definer set search_path = '' as $$
declare j public.orchestrator_jobs;
begin
  update public.orchestrator_jobs set
      status = case when attempts >= max_attempts then 'dead' else 'pending' end::public.job_status,
      run_after = public.sam_now() + least(public.setting_interval('job_backoff_base', project_id) * power(2, greatest(attempts - 1, 0)),
                                           public.setting_interval('job_backoff_max', project_id)),
      last_error = left(p_error, 4000), locked_until = null, updated_at = public.sam_now(),
      finished_at = case when attempts >= max_attempts then public.sam_now() end
   where id = p_job and status = 'running'
  returning * into j;
  if j.id is null then return (select status from public.orchestrator_jobs where id = p_job); end if;
  if j.owner_id is not null then
    insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id, reason)
    values ('orchestrator_job', j.id, j.owner_id, j.project_id, 'running', j.status::text, 'system', public.sam_actor_id(), left(p_error, 500));
  end if;
  return j.status;
end $$;

-- The shortest value of an interval setting over the platform and every project override: the
-- bound an indexed sweep selects candidates by before checking each row's own project value.
create or replace function public.sam_min_interval(p_key text) returns interval
language sql stable security definer set search_path = '' as $$
  select least((select (value #>> '{}')::interval from public.settings where key = p_key),
               (select min((value #>> '{}')::interval) from public.project_settings where key = p_key))
$$;

create or replace function public.sweep_warm_nodes() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id from public.nodes where status = 'warm' and warm_until <= public.sam_now()
            order by warm_until limit public.setting_int('sweep_batch') for update skip locked loop
    if public.destroy_node(r.id, 'warm timeout') then n := n + 1; end if;
  end loop;
  return n;
end $$;

-- Idle lifetime: no live workspace and no workspace activity for idle_node_lifetime.
create or replace function public.sweep_idle_nodes() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id from public.nodes x
            where status in ('ready', 'active', 'warm', 'unhealthy')
              and last_activity_at <= public.sam_now() - public.setting_interval('idle_node_lifetime')
              and not exists (select 1 from public.workspaces w where w.node_id = x.id and w.status in ('creating', 'ready', 'stopping'))
            order by last_activity_at limit public.setting_int('sweep_batch') for update skip locked loop
    if public.destroy_node(r.id, 'idle lifetime') then n := n + 1; end if;
  end loop;
  return n;
end $$;

-- Absolute ceiling: no workspace activity for node_absolute_lifetime, whatever else (heartbeats
-- do not count; a node busy with live but silent workspaces is destroyed too).
create or replace function public.sweep_node_lifetime() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id from public.nodes
            where status in ('provisioning', 'ready', 'active', 'warm', 'unhealthy')
              and last_activity_at <= public.sam_now() - public.setting_interval('node_absolute_lifetime')
            order by last_activity_at limit public.setting_int('sweep_batch') for update skip locked loop
    if public.destroy_node(r.id, 'no workspace activity within the absolute lifetime') then n := n + 1; end if;
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
    if public.mark_node_unhealthy(r.id, 'stale heartbeat') then n := n + 1; end if;
  end loop;
  return n;
end $$;
