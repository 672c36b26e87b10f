-- A workspace stopped before its machine heard of it ends, and its node goes warm.
--
-- Stopping a workspace asks its machine to stop it (`stopping` queues `stop_workspace`), and the
-- machine's runner reports it `stopped`. Two ways that report never came:
-- 1. Stopped while `creating`, before the machine took its `create_workspace`: the poll dropped the
--    create (node_workspace_bootstrap answers null for `stopping`), the machine then refused the
--    stop of a workspace it does not run, and the workspace stayed `stopping` for good, keeping its
--    node from going warm (seen when a fork was stopped the moment it started).
-- 2. The create was delivered but its answer lost, and the redelivery came after the stop: the
--    same drop, the same refusal.
-- Now:
-- - sam_workspace_move from `creating` to `stopping` withdraws a `create_workspace` still pending (failed, "stopped
--   before its machine received it") and moves the workspace on to `stopped` at once: there is
--   nothing on the machine to stop, so no `stop_workspace` is queued. Both moves are events.
--   A create already delivered is left alone (the machine may be creating it; its stop follows).
-- - ack_node_command: a `stop_workspace` the machine acknowledges as done means the workspace is
--   not running there (stopped by its runner, or never started on it); one still `stopping` moves
--   to `stopped`. The vm-agent acknowledges the stop of a workspace it does not run as done with
--   `{"running": false}` instead of refusing it.
-- Safe to run twice.

create or replace function public.sam_workspace_move(p_ws uuid, p_from public.workspace_status[], p_to public.workspace_status, p_reason text default null::text)
returns boolean language plpgsql security definer set search_path = '' as $$
declare old public.workspaces;
begin
  select * into old from public.workspaces where id = p_ws for update;
  if old.id is null then raise exception 'workspace % not found', p_ws using errcode = 'P0002'; end if;
  if old.status = p_to then return false; end if;
  update public.workspaces set status = p_to, status_changed_at = public.sam_now(), updated_at = public.sam_now(),
         error_message = case when p_to = 'failed' then left(p_reason, 4000) else error_message end
   where id = p_ws and status = any(p_from);
  if not found then
    raise exception 'workspace % cannot go from % to %', p_ws, old.status, p_to using errcode = '55000';
  end if;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id, reason)
  values ('workspace', p_ws, old.owner_id, old.project_id, old.status::text, p_to::text, coalesce(public.sam_caller(), 'system'),
          public.sam_actor_id(), p_reason);
  perform public.sam_touch_activity(p_ws);
  if p_to = 'stopping' then
    -- A create the machine has not taken yet is withdrawn. One a poll is taking right now (its row
    -- locked) counts as taken: waiting for it could deadlock with the poll, which reads this
    -- workspace; the machine then gets the stop after the create. A `ready` workspace said so from
    -- its machine: it runs there whatever its create's row says.
    if old.status = 'creating' then
      update public.node_commands
         set status = 'failed', completed_at = public.sam_now(),
             result = jsonb_build_object('error', 'stopped before its machine received it')
       where id = (select c.id from public.node_commands c
                    where c.workspace_id = p_ws and c.kind = 'create_workspace' and c.status = 'pending'
                    for update skip locked);
      if found then
        return public.sam_workspace_move(p_ws, array['stopping']::public.workspace_status[], 'stopped',
          'stopped before its machine received it');
      end if;
    end if;
    insert into public.node_commands (node_id, owner_id, workspace_id, kind, payload, dedupe_key)
    values (old.node_id, old.owner_id, p_ws, 'stop_workspace', jsonb_build_object('workspaceId', p_ws), 'stop_workspace:' || p_ws)
    on conflict (dedupe_key) do nothing;
  end if;
  if public.is_terminal(p_to) then
    update public.tokens set revoked_at = public.sam_now(), revoked_reason = 'workspace ' || p_to
     where workspace_id = p_ws and revoked_at is null;
    update public.agent_sessions set status = 'stopped', status_changed_at = public.sam_now()
     where workspace_id = p_ws and not public.is_terminal(status);
    -- A node with no live workspace left goes warm.
    if not exists (select 1 from public.workspaces where node_id = old.node_id and status in ('creating', 'ready', 'stopping'))
       and exists (select 1 from public.nodes where id = old.node_id and status = 'active') then
      perform public.sam_node_go_warm(old.node_id, 'last workspace ' || p_to);
    end if;
  end if;
  return true;
end $$;

create or replace function public.ack_node_command(p_command uuid, p_ok boolean, p_result jsonb default null::jsonb)
returns boolean language plpgsql security definer set search_path = '' as $$
declare nid uuid := public.current_node_id(); c public.node_commands;
begin
  if nid is null then raise exception 'a node token is required' using errcode = '42501'; end if;
  update public.node_commands set status = case when p_ok then 'done' else 'failed' end::public.node_command_status,
         result = p_result, completed_at = public.sam_now()
   where id = p_command and node_id = nid and status in ('pending', 'delivered')
   returning * into c;
  if c.id is null then return false; end if;
  -- The machine says the workspace no longer runs there: one still waiting for that is stopped
  -- (locked first, so a report of its runner in the meantime is not contradicted).
  if p_ok and c.kind = 'stop_workspace' then
    perform 1 from public.workspaces where id = c.workspace_id and status = 'stopping' for update;
    if found then
      perform public.sam_workspace_move(c.workspace_id, array['stopping']::public.workspace_status[], 'stopped',
        case when p_result ->> 'running' = 'false' then 'not running on its machine' else 'stopped by its machine' end);
    end if;
  end if;
  return true;
end $$;
