-- Destroying a busy node. Before: destroy_node failed each live workspace through
-- workspace_failed, which only the system or the workspace itself may call, so an owner's
-- destroy_node was refused (42501) while a workspace was live; and failing a task that had
-- claimed the node released the claim by sending the node back to warm — from `destroying`,
-- which raised (55000) and rolled back every run of sweep_node_lifetime. Now destroy_node, once
-- it has authorized its caller, ends what ran on the node itself: agent sessions and workspaces
-- fail with the reason ("node destroyed: <reason>"), their tasks and the tasks still waiting for
-- the node fail with it; and a released claim only sends a node back to warm from a state that
-- may go warm. Safe to run twice.

-- A workspace that can no longer run (its node is going away): its live agent sessions fail,
-- then it fails, then its task fails — each with the reason and an event. Internal: the caller
-- has authorized already.
create or replace function public.sam_fail_workspace(p_ws uuid, p_reason text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare a record; moved boolean; tid uuid;
begin
  for a in select id, owner_id, project_id, status from public.agent_sessions
            where workspace_id = p_ws and status in ('starting', 'idle', 'prompting', 'recovering')
            order by created_at for update loop
    update public.agent_sessions set status = 'failed', status_changed_at = public.sam_now(), updated_at = public.sam_now(),
           error_message = left(p_reason, 4000)
     where id = a.id and status = a.status;
    insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id, reason)
    values ('agent_session', a.id, a.owner_id, a.project_id, a.status::text, 'failed', coalesce(public.sam_caller(), 'system'),
            public.sam_actor_id(), left(p_reason, 500));
    update public.tokens set revoked_at = public.sam_now(), revoked_reason = 'agent session failed'
     where agent_session_id = a.id and revoked_at is null;
  end loop;
  moved := public.sam_workspace_move(p_ws, array['creating', 'ready', 'stopping']::public.workspace_status[], 'failed', p_reason);
  select task_id into tid from public.workspaces where id = p_ws;
  if tid is not null and exists (select 1 from public.tasks where id = tid and not public.is_terminal(status)) then
    perform public.sam_fail_task(tid, p_reason);
  end if;
  return moved;
end $$;

-- As part 9's version, but an unused warm claim goes back to warm only from a state that may go
-- warm (ready, active, unhealthy); a node that is destroying, destroyed or failed keeps its state.
create or replace function public.sam_release_task(p_task uuid, p_reason text) returns void
language plpgsql security definer set search_path = '' as $$
declare t public.tasks; w record;
begin
  select * into t from public.tasks where id = p_task;
  update public.tokens set revoked_at = public.sam_now(), revoked_reason = p_reason
   where task_id = p_task and kind = 'agent' and revoked_at is null;
  for w in select id from public.workspaces where task_id = p_task and status in ('creating', 'ready') loop
    perform public.sam_workspace_move(w.id, array['creating', 'ready']::public.workspace_status[], 'stopping', p_reason);
  end loop;
  if t.claimed_warm_node_id is not null
     and exists (select 1 from public.nodes where id = t.claimed_warm_node_id and status in ('ready', 'active', 'unhealthy'))
     and not exists (select 1 from public.workspaces where node_id = t.claimed_warm_node_id
                       and status in ('creating', 'ready', 'stopping')) then
    perform public.sam_node_go_warm(t.claimed_warm_node_id, 'claim released: ' || p_reason);
  end if;
end $$;

-- The owner (or the system) destroys a node, busy or not. Replaces part 15's version.
create or replace function public.destroy_node(p_node uuid, p_reason text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare n public.nodes; moved boolean; r record; why text := 'node destroyed: ' || coalesce(p_reason, 'no reason given');
begin
  select * into n from public.nodes where id = p_node;
  if n.id is null or not coalesce(public.sam_caller() = 'system' or (public.sam_caller() = 'user' and n.owner_id = auth.uid()), false) then
    raise exception 'not allowed to destroy node %', p_node using errcode = '42501';
  end if;
  moved := public.sam_node_move(p_node, array['provisioning', 'ready', 'active', 'warm', 'unhealthy', 'failed']::public.node_status[],
                                'destroying', p_reason);
  if moved then
    update public.tokens set revoked_at = public.sam_now(), revoked_reason = 'node destroyed'
     where node_id = p_node and revoked_at is null;
    for r in select id from public.workspaces where node_id = p_node and status in ('creating', 'ready', 'stopping')
              order by created_at loop
      perform public.sam_fail_workspace(r.id, why);
    end loop;
    -- Tasks placed on the node that have no workspace on it yet (waiting for it to register).
    for r in select id from public.tasks where (auto_provisioned_node_id = p_node or node_id = p_node)
               and status in ('queued', 'delegated', 'in_progress') order by created_at loop
      perform public.sam_fail_task(r.id, why);
    end loop;
    perform public.sam_enqueue_job('destroy_node', n.owner_id, null, null, p_node,
      jsonb_build_object('provider', n.provider, 'providerInstanceId', n.provider_instance_id), 'destroy_node:' || p_node);
  end if;
  return moved;
end $$;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
