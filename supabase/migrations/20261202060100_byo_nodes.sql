-- Bring your own machine: a node of provider `byo` is a machine its owner already has, enrolled with
-- one command (web: Add a machine) and a one-time bootstrap token. SAM never destroys it:
--   - once registered it waits for its owner's tasks as a warm node that never expires
--     (warm_until = infinity), so the warm sweep never picks it;
--   - a sweep that would destroy it (idle, lifetime, provisioning timeout) releases its workspaces
--     instead (they fail in words, their tasks with them) and leaves the machine be; one that never
--     registered is simply forgotten (there is nothing to delete anywhere);
--   - its owner removes it (destroy_node as the owner): the tokens are revoked, so the vm-agent on it
--     stops, and the row goes straight to `destroyed`. No destroy job ever reaches a provider.

-- A registered machine of its own is ready for its owner's tasks at once, and stays so.
create or replace function public.sam_byo_node_warm_forever() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'UPDATE' and new.provider = 'byo' then
    if tg_when = 'BEFORE' and new.status = 'warm' then
      new.warm_until := 'infinity';
    elsif tg_when = 'AFTER' and new.status = 'ready' and old.status = 'provisioning' then
      perform public.sam_node_go_warm(new.id, 'your machine registered; it waits for your tasks');
    end if;
  end if;
  return new;
end $$;
drop trigger if exists nodes_byo_warm_until on public.nodes;
create trigger nodes_byo_warm_until before update of status, warm_until on public.nodes
  for each row when (new.provider = 'byo') execute function public.sam_byo_node_warm_forever();
drop trigger if exists nodes_byo_ready on public.nodes;
create trigger nodes_byo_ready after update of status on public.nodes
  for each row when (new.provider = 'byo' and new.status = 'ready') execute function public.sam_byo_node_warm_forever();

-- Fails what runs on (or waits for) a node: its live workspaces and the tasks placed on it.
create or replace function public.sam_release_node_work(p_node uuid, p_why text) returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0;
begin
  for r in select id from public.workspaces where node_id = p_node and status in ('creating', 'ready', 'stopping')
            order by created_at loop
    perform public.sam_fail_workspace(r.id, p_why);
    n := n + 1;
  end loop;
  for r in select id from public.tasks where (auto_provisioned_node_id = p_node or node_id = p_node)
             and status in ('queued', 'delegated', 'in_progress') order by created_at loop
    perform public.sam_fail_task(r.id, p_why);
    n := n + 1;
  end loop;
  return n;
end $$;

create or replace function public.destroy_node(p_node uuid, p_reason text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare n public.nodes; moved boolean; why text := 'node destroyed: ' || coalesce(p_reason, 'no reason given');
  live public.node_status[] := array['provisioning', 'ready', 'active', 'warm', 'unhealthy', 'failed']::public.node_status[];
begin
  select * into n from public.nodes where id = p_node;
  if n.id is null or not coalesce(public.sam_caller() = 'system' or (public.sam_caller() = 'user' and n.owner_id = auth.uid()), false) then
    raise exception 'not allowed to destroy node %', p_node using errcode = '42501';
  end if;
  if n.provider = 'byo' then
    -- Its owner removes it, or it never registered: forget it (nothing to delete anywhere).
    if public.sam_caller() = 'user' or n.status = 'provisioning' then
      moved := public.sam_node_move(p_node, live, 'destroyed',
        case when public.sam_caller() = 'user' then 'removed by its owner' else p_reason end);
      if moved then
        update public.tokens set revoked_at = public.sam_now(), revoked_reason = 'machine removed'
         where node_id = p_node and revoked_at is null;
        perform public.sam_release_node_work(p_node, 'your machine was removed from SAM');
      end if;
      return moved;
    end if;
    -- A sweep: release what runs there, keep the machine.
    perform public.sam_release_node_work(p_node, 'released from your machine: ' || coalesce(p_reason, 'swept'));
    return false;
  end if;
  moved := public.sam_node_move(p_node, live, 'destroying', p_reason);
  if moved then
    update public.tokens set revoked_at = public.sam_now(), revoked_reason = 'node destroyed'
     where node_id = p_node and revoked_at is null;
    perform public.sam_release_node_work(p_node, why);
    perform public.sam_enqueue_job('destroy_node', n.owner_id, null, null, p_node,
      jsonb_build_object('provider', n.provider, 'providerInstanceId', n.provider_instance_id), 'destroy_node:' || p_node);
  end if;
  return moved;
end $$;

insert into public.settings (key, value, kind, description, min_value, max_value, project_override) values
  ('byo_pending_limit', '5', 'integer', 'machines a user may have waiting to register (bring your own)', '1', '100', 'none')
on conflict (key) do nothing;

-- Add a machine: a `byo` node of the caller and its one-time bootstrap token (bootstrap_token_ttl,
-- 15 minutes), plus the current vm-agent bundle's version and sha256 for the install command.
create or replace function public.add_byo_node(p_name text default null, p_size public.vm_size default 'medium')
returns jsonb
language plpgsql security definer set search_path = '' as $$
declare uid uuid := auth.uid(); nid uuid; tok text; b record;
  label text := left(coalesce(nullif(btrim(p_name), ''), 'My machine'), 100);
begin
  if public.sam_caller() is distinct from 'user' or uid is null then
    raise exception 'only a signed-in user adds a machine' using errcode = '42501';
  end if;
  perform pg_advisory_xact_lock(hashtext('add_byo_node:' || uid));
  if (select count(*) from public.nodes where owner_id = uid and provider = 'byo' and status = 'provisioning')
     >= public.setting_int('byo_pending_limit') then
    raise exception 'you already have % machines waiting to register; use or remove those first',
      public.setting_int('byo_pending_limit') using errcode = '53400';
  end if;
  select * into b from public.current_vm_agent_bundle();
  if b.sha256 is null then
    raise exception 'no vm-agent bundle is published on this installation' using errcode = '55000';
  end if;
  insert into public.nodes (owner_id, name, provider, vm_size, auto_provisioned)
  values (uid, label, 'byo', coalesce(p_size, 'medium'), false) returning id into nid;
  insert into public.lifecycle_events (entity, entity_id, owner_id, to_state, actor_type, actor_id, reason)
  values ('node', nid, uid, 'provisioning', 'user', uid::text, 'machine added by its owner');
  tok := public.issue_bootstrap_token(nid);
  return jsonb_build_object('nodeId', nid, 'bootstrapToken', tok,
    'expiresAt', public.sam_now() + public.setting_interval('bootstrap_token_ttl'),
    'bundle', jsonb_build_object('version', b.version, 'sha256', b.sha256));
end $$;

revoke execute on function public.sam_byo_node_warm_forever(), public.sam_release_node_work(uuid, text)
  from public, anon, authenticated;
revoke execute on function public.add_byo_node(text, public.vm_size) from public, anon;
grant execute on function public.add_byo_node(text, public.vm_size) to authenticated, service_role;
grant execute on function public.destroy_node(uuid, text) to authenticated, service_role;
