-- What the `orchestrator` function needs: Postgres wakes it when jobs are enqueued (pg_net, with
-- its URL and secret from Vault), a per-minute kick for jobs that became due again (retries), the
-- machine a provider created recorded on its node, a provision job that gives up failing its node
-- and the tasks waiting for it, and the list of nodes whose machines a provider must keep (orphan
-- proof for the orphan sweep).

-- Wakes the orchestrator: POST <sam_functions_url>/orchestrator/run with
-- `Authorization: Bearer <sam_orchestrator_secret>`, both read from Vault (hosted: set once with
-- vault.create_secret; locally `sam start` and the test helpers write them). Without them (a
-- database no orchestrator serves), nothing happens. pg_net sends only after the transaction
-- commits, and never for one that rolls back. Returns the pg_net request id, or null.
create or replace function public.sam_wake_orchestrator(p_body jsonb default '{}') returns bigint
language plpgsql security definer set search_path = '' as $$
declare url text; secret text;
begin
  select decrypted_secret into url from vault.decrypted_secrets where name = 'sam_functions_url';
  select decrypted_secret into secret from vault.decrypted_secrets where name = 'sam_orchestrator_secret';
  if coalesce(url, '') = '' or coalesce(secret, '') = '' then
    return null;
  end if;
  return net.http_post(
    url := rtrim(url, '/') || '/orchestrator/run',
    body := coalesce(p_body, '{}'),
    headers := jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || secret),
    timeout_milliseconds := 60000);
end $$;

-- One wake per transaction that enqueued due jobs (submit_task may enqueue two). A statement
-- trigger fires even when `on conflict do nothing` inserted nothing, so it looks at the rows.
create or replace function public.sam_orchestrator_jobs_wake() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if coalesce(current_setting('sam.orchestrator_woken', true), '') <> 'on'
     and exists (select 1 from new_jobs where status = 'pending' and run_after <= public.sam_now()) then
    perform set_config('sam.orchestrator_woken', 'on', true);
    perform public.sam_wake_orchestrator();
  end if;
  return null;
end $$;
create or replace trigger orchestrator_jobs_wake after insert on public.orchestrator_jobs
  referencing new table as new_jobs for each statement execute function public.sam_orchestrator_jobs_wake();

-- pg_cron: a job retried after a failure becomes due after its backoff with nobody inserting
-- anything; once a minute the orchestrator is woken if some job is due.
create or replace function public.sam_kick_orchestrator() returns bigint
language sql security definer set search_path = '' as $$
  select public.sam_wake_orchestrator()
   where exists (select 1 from public.orchestrator_jobs where status = 'pending' and run_after <= public.sam_now())
$$;

-- Orchestrator: the provider created the node's machine. Recorded once (repeat-safe; a different
-- machine for the same node is refused). The agent may have registered already (a node that is
-- ready/active/…), and a cloud agent does not know its instance id, so any live node without one
-- takes it; a node that is going away (destroying, destroyed, failed) refuses it with 55000, and
-- the orchestrator deletes the machine it just made.
create or replace function public.node_provisioned(p_node uuid, p_instance_id text, p_ip text default null)
returns boolean language plpgsql security definer set search_path = '' as $$
declare n public.nodes;
begin
  if public.sam_caller() is distinct from 'system' then
    raise exception 'only the orchestrator records provisioned machines' using errcode = '42501';
  end if;
  if p_instance_id is null or length(btrim(p_instance_id)) = 0 or length(p_instance_id) > 200 then
    raise exception 'a provider instance id is 1 to 200 characters' using errcode = '22023';
  end if;
  if p_ip is not null and length(p_ip) > 100 then
    raise exception 'an ip address is at most 100 characters' using errcode = '22023';
  end if;
  select * into n from public.nodes where id = p_node for update;
  if n.id is null then raise exception 'node % not found', p_node using errcode = 'P0002'; end if;
  if n.provider_instance_id = p_instance_id then return false; end if;
  if n.provider_instance_id is not null then
    raise exception 'node % already runs on machine %', p_node, n.provider_instance_id using errcode = '55000';
  end if;
  update public.nodes set provider_instance_id = p_instance_id, ip_address = coalesce(ip_address, p_ip),
         updated_at = public.sam_now()
   where id = p_node and provider_instance_id is null
     and status in ('provisioning', 'ready', 'active', 'warm', 'unhealthy');
  if not found then
    raise exception 'node % is %, it takes no machine', p_node, n.status using errcode = '55000';
  end if;
  insert into public.lifecycle_events (entity, entity_id, owner_id, from_state, to_state, actor_type, actor_id, reason)
  values ('node', p_node, n.owner_id, n.status::text, n.status::text, 'system', public.sam_actor_id(),
          left('machine ' || p_instance_id || ' created', 500));
  return true;
end $$;

-- A node that fails takes the tasks waiting for it (placed on it, no workspace yet) with it, with
-- the reason, instead of leaving them to time out. Replaces part 10's version.
create or replace function public.fail_node(p_node uuid, p_error text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare moved boolean; t record;
begin
  update public.nodes set error_message = left(p_error, 4000) where id = p_node and status = 'provisioning';
  moved := public.sam_node_move(p_node, array['provisioning', 'ready', 'active', 'warm', 'unhealthy']::public.node_status[],
                                'failed', p_error);
  if moved then
    for t in select id from public.tasks where auto_provisioned_node_id = p_node and workspace_id is null
               and status in ('queued', 'delegated', 'in_progress') order by created_at loop
      perform public.sam_fail_task(t.id, 'Could not provision a node: ' || coalesce(p_error, 'unknown error'));
    end loop;
  end if;
  return moved;
end $$;

-- As part 15's version; a provision_node job that goes dead fails its node (and so its tasks).
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
  if j.status = 'dead' and j.kind = 'provision_node' and j.node_id is not null then
    perform public.fail_node(j.node_id, format('gave up creating the machine after %s attempts: %s', j.attempts,
                                                left(coalesce(p_error, 'unknown error'), 1000)));
  end if;
  return j.status;
end $$;

-- Orphan proof (flow 5): the nodes whose machines a provider must keep — every node of that
-- provider that is not destroyed or failed (destroying ones included: their destroy job deletes
-- them). A provider machine labelled `sam=node` whose `sam-node-id` is not listed is an orphan.
-- Read the list after listing the machines: a machine exists only after its node row committed.
create or replace function public.provider_nodes_to_keep(p_provider text)
returns table (node_id uuid, provider_instance_id text, status public.node_status)
language sql stable security definer set search_path = '' as $$
  select n.id, n.provider_instance_id, n.status from public.nodes n
   where n.provider = p_provider and n.status not in ('destroyed', 'failed')
$$;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;

-- pg_cron 1.4: minute schedules only. Scheduled only when missing or different (part 16).
create or replace function pg_temp.ensure_cron(p_name text, p_schedule text, p_command text) returns void
language plpgsql as $$
begin
  if not exists (select 1 from cron.job where jobname = p_name and schedule = p_schedule and command = p_command) then
    perform cron.schedule(p_name, p_schedule, p_command);
  end if;
end $$;
select pg_temp.ensure_cron('sam-kick-orchestrator', '* * * * *', 'select public.sam_kick_orchestrator()');
select pg_temp.ensure_cron('sam-sweep-orphan-machines', '*/10 * * * *',
  'select public.sam_wake_orchestrator(''{"sweepOrphans": true}'')');
