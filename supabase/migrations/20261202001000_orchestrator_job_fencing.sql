-- Orchestrator job fencing: every claim is a new attempt (`attempts`, which only ever grows), and
-- only the current attempt may end the job. A worker whose lease ran out and whose job was counted
-- by sweep_orchestrator_jobs (and perhaps claimed again by another worker) names an attempt that is
-- no longer current: its completion or failure changes nothing and says so.
--
-- Both functions now take the attempt and answer
--   {"accepted": true,  "status": <the job's new status>, "attempt": n}
--   {"accepted": false, "status": <the job's status>, "attempt": <its current attempt>, "reason": …}
-- The unfenced two-argument versions are dropped, so a caller that does not name its attempt fails
-- loudly instead of ending someone else's attempt.

drop function if exists public.complete_orchestrator_job(uuid, jsonb);
drop function if exists public.fail_orchestrator_job(uuid, text);

-- Why an attempt is not (or no longer) the one that may end its job; null when it is.
create or replace function public.sam_job_fence(j public.orchestrator_jobs, p_attempt integer) returns text
language sql immutable set search_path = '' as $$
  select case
    when j.id is null then 'no such job'
    when j.attempts is distinct from p_attempt then format('attempt %s is not the job''s current attempt (%s)', p_attempt, j.attempts)
    when j.status <> 'running' then format('attempt %s already ended (the job is %s)', p_attempt, j.status)
  end
$$;

create or replace function public.complete_orchestrator_job(p_job uuid, p_attempt integer, p_result jsonb default null)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare j public.orchestrator_jobs; why text;
begin
  select * into j from public.orchestrator_jobs where id = p_job for update;
  why := public.sam_job_fence(j, p_attempt);
  if why is not null then
    return jsonb_build_object('accepted', false, 'status', j.status, 'attempt', j.attempts, 'reason', why);
  end if;
  update public.orchestrator_jobs set status = 'succeeded', finished_at = public.sam_now(), updated_at = public.sam_now(),
         locked_until = null, payload = case when p_result is null then payload else payload || jsonb_build_object('result', p_result) end
   where id = p_job
  returning * into j;
  return jsonb_build_object('accepted', true, 'status', j.status, 'attempt', j.attempts);
end $$;

-- Failure of the current attempt: back to pending after base·2^(attempts−1) (capped), or dead after
-- max_attempts (a dead provision_node job fails its node and the tasks waiting for it).
create or replace function public.fail_orchestrator_job(p_job uuid, p_attempt integer, p_error text)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare j public.orchestrator_jobs; why text;
begin
  select * into j from public.orchestrator_jobs where id = p_job for update;
  why := public.sam_job_fence(j, p_attempt);
  if why is not null then
    return jsonb_build_object('accepted', false, 'status', j.status, 'attempt', j.attempts, 'reason', why);
  end if;
  update public.orchestrator_jobs set
      status = case when attempts >= max_attempts then 'dead' else 'pending' end::public.job_status,
      run_after = public.sam_now() + least(public.setting_interval('job_backoff_base', project_id) * power(2, greatest(attempts - 1, 0)),
                                           public.setting_interval('job_backoff_max', project_id)),
      last_error = left(p_error, 4000), locked_until = null, updated_at = public.sam_now(),
      finished_at = case when attempts >= max_attempts then public.sam_now() end
   where id = p_job
  returning * into j;
  if j.owner_id is not null then
    insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id, reason)
    values ('orchestrator_job', j.id, j.owner_id, j.project_id, 'running', j.status::text, 'system', public.sam_actor_id(), left(p_error, 500));
  end if;
  if j.status = 'dead' and j.kind = 'provision_node' and j.node_id is not null then
    perform public.fail_node(j.node_id, format('gave up creating the machine after %s attempts: %s', j.attempts,
                                                left(coalesce(p_error, 'unknown error'), 1000)));
  end if;
  return jsonb_build_object('accepted', true, 'status', j.status, 'attempt', j.attempts);
end $$;

-- Jobs whose worker vanished: the lease ran out, so that attempt counts as failed (and retries).
-- The sweep holds the row, so the attempt it names is the current one.
create or replace function public.sweep_orchestrator_jobs() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id, attempts from public.orchestrator_jobs where status = 'running' and locked_until <= public.sam_now()
            order by locked_until limit public.setting_int('sweep_batch') for update skip locked loop
    perform public.fail_orchestrator_job(r.id, r.attempts, 'lease expired'); n := n + 1;
  end loop;
  return n;
end $$;

-- Internal: the orchestrator (service_role) and pg_cron only, whatever a platform grants by default.
revoke execute on function public.sam_job_fence(public.orchestrator_jobs, integer),
  public.complete_orchestrator_job(uuid, integer, jsonb), public.fail_orchestrator_job(uuid, integer, text),
  public.sweep_orchestrator_jobs() from public, anon, authenticated;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
