-- Two changes of the same day meet here. The lease sweep names the attempt it fails (job fencing),
-- and, like every sweep, handles each job in its own subtransaction, so one job that raises cannot
-- stop the others. `orphan_min_age` gets its range like every other setting.

create or replace function public.sweep_orchestrator_jobs() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id, attempts from public.orchestrator_jobs where status = 'running' and locked_until <= public.sam_now()
            order by locked_until limit public.setting_int('sweep_batch') for update skip locked loop
    begin
      perform public.fail_orchestrator_job(r.id, r.attempts, 'lease expired');
      n := n + 1;
    exception when others then
      raise warning 'sweep_orchestrator_jobs: job % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  return n;
end $$;

update public.settings set min_value = '"1 second"', max_value = '"30 days"', project_override = 'none'
 where key = 'orphan_min_age'
   and (min_value, max_value, project_override) is distinct from ('"1 second"'::jsonb, '"30 days"'::jsonb, 'none');

revoke execute on function public.sweep_orchestrator_jobs() from public, anon, authenticated;
