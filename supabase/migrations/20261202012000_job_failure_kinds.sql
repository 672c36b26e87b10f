-- A job attempt can fail three ways, and the runner now says which:
--   retryable (default)    back to pending after base·2^(attempts−1), capped; dead after max_attempts;
--   permanent              trying again cannot help (a refused token, a quota, invalid input): the job is
--                          dead at once, with the reason in words;
--   retry after a wait     the API named its wait (a rate limit's reset, Retry-After): the next attempt
--                          is not before it (at most a day away), and never sooner than the backoff.
-- The three-argument form is replaced by one with two defaulted arguments, so the sweeps' calls
-- (lease expired: retryable) keep working unchanged.

drop function if exists public.fail_orchestrator_job(uuid, integer, text);

create or replace function public.fail_orchestrator_job(p_job uuid, p_attempt integer, p_error text,
                                                         p_permanent boolean default false,
                                                         p_retry_after_ms bigint default null)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare j public.orchestrator_jobs; why text; gives_up boolean; backoff interval; wait interval;
begin
  select * into j from public.orchestrator_jobs where id = p_job for update;
  why := public.sam_job_fence(j, p_attempt);
  if why is not null then
    return jsonb_build_object('accepted', false, 'status', j.status, 'attempt', j.attempts, 'reason', why);
  end if;
  gives_up := coalesce(p_permanent, false) or j.attempts >= j.max_attempts;
  backoff := least(public.setting_interval('job_backoff_base', j.project_id) * power(2, greatest(j.attempts - 1, 0)),
                   public.setting_interval('job_backoff_max', j.project_id));
  wait := greatest(backoff, make_interval(secs => least(greatest(coalesce(p_retry_after_ms, 0), 0), 86400000) / 1000.0));
  update public.orchestrator_jobs set
      status = case when gives_up then 'dead' else 'pending' end::public.job_status,
      run_after = public.sam_now() + wait,
      last_error = left(p_error, 4000), locked_until = null, updated_at = public.sam_now(),
      finished_at = case when gives_up then public.sam_now() end
   where id = p_job
  returning * into j;
  if j.owner_id is not null then
    insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id, reason)
    values ('orchestrator_job', j.id, j.owner_id, j.project_id, 'running', j.status::text, 'system', public.sam_actor_id(),
            left(case when coalesce(p_permanent, false) then 'permanent: ' else '' end || p_error, 500));
  end if;
  if j.status = 'dead' and j.kind = 'provision_node' and j.node_id is not null then
    perform public.fail_node(j.node_id,
      case when coalesce(p_permanent, false)
           then left(coalesce(p_error, 'unknown error'), 1000)
           else format('gave up creating the machine after %s attempts: %s', j.attempts,
                       left(coalesce(p_error, 'unknown error'), 1000)) end);
  end if;
  return jsonb_build_object('accepted', true, 'status', j.status, 'attempt', j.attempts);
end $$;

revoke all on function public.fail_orchestrator_job(uuid, integer, text, boolean, bigint) from public, anon, authenticated;
grant execute on function public.fail_orchestrator_job(uuid, integer, text, boolean, bigint) to service_role;
