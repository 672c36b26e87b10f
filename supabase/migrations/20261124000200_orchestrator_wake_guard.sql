-- Waking the orchestrator must never cost the transaction that enqueued the job: a submit_task
-- whose wake-up failed (pg_net or Vault missing on a project, a permission changed) still commits,
-- with a warning, and the per-minute kick (sam-kick-orchestrator) wakes the orchestrator later.
-- Also enables pg_net where the platform packages it (hosted); the local stack's bootstrap
-- provides the `net` schema itself.

do $$
begin
  if not exists (select 1 from pg_namespace where nspname = 'net')
     and exists (select 1 from pg_available_extensions where name = 'pg_net') then
    create extension if not exists pg_net;
  end if;
end $$;

-- As part 20261124000100's version, failure-tolerant.
create or replace function public.sam_orchestrator_jobs_wake() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if coalesce(current_setting('sam.orchestrator_woken', true), '') <> 'on'
     and exists (select 1 from new_jobs where status = 'pending' and run_after <= public.sam_now()) then
    perform set_config('sam.orchestrator_woken', 'on', true);
    begin
      perform public.sam_wake_orchestrator();
    exception when others then
      raise warning 'could not wake the orchestrator (the per-minute kick will): % %', sqlstate, sqlerrm;
    end;
  end if;
  return null;
end $$;

-- As every migration ends.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
