-- node_provisioned, fenced like the job that calls it: the orchestrator names its provision_node job
-- and attempt, and a machine made by an attempt that is no longer current (its lease ran out and the
-- job was claimed again) is refused with 55000 — the orchestrator then deletes it. Without this a
-- stale worker could record its machine while the current attempt, which had not seen it recorded,
-- deletes it as an earlier attempt's leftover: the node would name a machine that no longer exists.
-- The job row is locked first (as claim, complete and fail do), so a claim cannot slip in between.
-- Without p_job the call is unfenced (manual repairs, tests). Otherwise as the orchestrator part's version.
drop function if exists public.node_provisioned(uuid, text, text);

create or replace function public.node_provisioned(p_node uuid, p_instance_id text, p_ip text default null,
                                                   p_job uuid default null, p_attempt integer default null)
returns boolean language plpgsql security definer set search_path = '' as $$
declare n public.nodes; j public.orchestrator_jobs; why text;
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
  if p_job is not null then
    select * into j from public.orchestrator_jobs where id = p_job for share;
    why := case when j.id is not null and (j.kind <> 'provision_node' or j.node_id is distinct from p_node)
                then 'the job does not provision this node' else public.sam_job_fence(j, p_attempt) end;
    if why is not null then
      raise exception 'machine % not recorded: %', p_instance_id, why using errcode = '55000';
    end if;
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

-- Internal: the orchestrator (service_role) only, whatever a platform grants by default.
revoke execute on function public.node_provisioned(uuid, text, text, uuid, integer) from public, anon, authenticated;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
