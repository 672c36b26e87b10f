-- Destroying or failing a node takes the locks in the control plane's one order too: the tasks of
-- its work first, then its live workspaces, then the node.
--
-- destroy_node and fail_node moved the node first and then failed its workspaces and tasks, while
-- everything else goes task, workspace, node: a machine recording its agent's messages locks the
-- workspace and then the node (sam_touch_activity), a workspace or agent-session move locks the
-- task first (20261203060000_task_first_lock_order). A user destroying a busy machine while it
-- recorded its agent's messages deadlocked, and Postgres aborted the user's destroy (500; shown in
-- tests/db/lock-order.test.ts). Now both take the tasks and then the live workspaces of the node
-- (each in id order) before the node (sam_lock_node_work).
-- The sweeps that lock nodes in their loop (skip locked) still take the node first; they act on
-- nodes that are idle, warm or silent, where nothing else locks the work.
-- Safe to run twice.

create or replace function public.sam_lock_node_work(p_node uuid) returns void
language plpgsql security definer set search_path = '' as $$
begin
  perform 1 from public.tasks t
   where t.id in (select w.task_id from public.workspaces w
                   where w.node_id = p_node and w.status in ('creating', 'ready', 'stopping'))
      or ((t.auto_provisioned_node_id = p_node or t.node_id = p_node) and t.status in ('queued', 'delegated', 'in_progress'))
   order by t.id for update;
  perform 1 from public.workspaces w
   where w.node_id = p_node and w.status in ('creating', 'ready', 'stopping')
   order by w.id for update;
end $$;

comment on function public.sam_lock_node_work(uuid) is
  'Locks the tasks and then the live workspaces of a node, before the node itself is locked to end it.';

revoke all on function public.sam_lock_node_work(uuid) from public, anon, authenticated;

create or replace function public.destroy_node(p_node uuid, p_reason text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare n public.nodes; moved boolean; why text := 'node destroyed: ' || coalesce(p_reason, 'no reason given');
  live public.node_status[] := array['provisioning', 'ready', 'active', 'warm', 'unhealthy', 'failed']::public.node_status[];
begin
  select * into n from public.nodes where id = p_node;
  if n.id is null or not coalesce(public.sam_caller() = 'system' or (public.sam_caller() = 'user' and n.owner_id = auth.uid()), false) then
    raise exception 'not allowed to destroy node %', p_node using errcode = '42501';
  end if;
  perform public.sam_lock_node_work(p_node);
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

create or replace function public.fail_node(p_node uuid, p_error text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare moved boolean; t record;
begin
  perform public.sam_lock_node_work(p_node);
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
