-- One lock order: a task's row first, then its workspace's, its agent sessions', its node's.
--
-- A user's stop (stop_task, cancel_task) locks the task and then moves its workspace. A machine's
-- report about that workspace locked in the other order: workspace_ready moved the workspace and
-- then the task's step; agent_session_ready moved the agent session (touching its workspace) and
-- then the task; start_agent_session wrote rows referencing the workspace (a key-share lock) before
-- the task's step. When both came at the same moment Postgres found a deadlock and aborted one: a
-- user's stop answered 500 and the task kept running (seen in CI, a retry stopped as its machine
-- reported its workspace ready); or the machine's report failed and was retried.
-- Now every move of a workspace or an agent session locks the task first (sam_lock_task_of), and
-- the machine's calls that read a workspace before locking it read it again after:
-- - sam_workspace_move, sam_agent_session_move: the task first.
-- - start_agent_session: the task first, then the workspace read again (a stop in between means
--   it is no longer ready, and the session is refused as before).
-- - workspace_ready: a workspace no longer `creating` (the user stopped it meanwhile) answers
--   false, changing nothing, instead of refusing the late report.
-- - sam_fail_workspace, ack_node_command: the task before the agent sessions and the workspace.
-- Safe to run twice.

create or replace function public.sam_lock_task_of(p_workspace uuid default null, p_agent_session uuid default null)
returns void language plpgsql security definer set search_path = '' as $$
begin
  perform 1 from public.tasks
   where id = coalesce((select task_id from public.workspaces where id = p_workspace),
                       (select task_id from public.agent_sessions where id = p_agent_session))
     for update;
end $$;

comment on function public.sam_lock_task_of(uuid, uuid) is
  'Locks the task of a workspace or an agent session: the first lock of every move, so all take the task before its workspace, agent sessions and node.';

revoke all on function public.sam_lock_task_of(uuid, uuid) from public, anon, authenticated;

create or replace function public.sam_workspace_move(p_ws uuid, p_from public.workspace_status[], p_to public.workspace_status, p_reason text default null::text)
returns boolean language plpgsql security definer set search_path = '' as $$
declare old public.workspaces;
begin
  perform public.sam_lock_task_of(p_ws);
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
  -- (its task and then it locked first, so a report of its runner in the meantime is not contradicted).
  if p_ok and c.kind = 'stop_workspace' then
    perform public.sam_lock_task_of(c.workspace_id);
    perform 1 from public.workspaces where id = c.workspace_id and status = 'stopping' for update;
    if found then
      perform public.sam_workspace_move(c.workspace_id, array['stopping']::public.workspace_status[], 'stopped',
        case when p_result ->> 'running' = 'false' then 'not running on its machine' else 'stopped by its machine' end);
    end if;
  end if;
  return true;
end $$;

create or replace function public.start_agent_session(p_agent_type text default null, p_workspace uuid default null)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(coalesce(p_workspace, public.current_workspace_id()), false);
  t public.tasks; s public.agent_sessions; sid uuid; j uuid; now_ timestamptz := public.sam_now(); exp timestamptz;
  cap timestamptz;
begin
  -- Its task first, then the workspace as it is now (a stop may have come in between).
  perform public.sam_lock_task_of(w.id);
  select * into w from public.workspaces where id = w.id;
  if w.status <> 'ready' then raise exception 'workspace % is %', w.id, w.status using errcode = '55000'; end if;
  select * into t from public.tasks where id = w.task_id;
  -- One live session per workspace: asking again (a restarted vm-agent) resumes it.
  select * into s from public.agent_sessions
   where workspace_id = w.id and status in ('starting', 'idle', 'prompting', 'recovering')
   order by created_at desc limit 1 for update;
  if s.id is not null then
    sid := s.id;
    select max(max_expires_at) into cap from public.tokens where agent_session_id = sid and kind = 'agent';
    update public.tokens set revoked_at = now_, revoked_reason = 'agent session resumed with a new token'
     where agent_session_id = sid and kind = 'agent' and revoked_at is null;
    insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id, reason)
    values ('agent_session', sid, w.owner_id, w.project_id, s.status::text, s.status::text,
            coalesce(public.sam_caller(), 'system'), public.sam_actor_id(), 'session resumed');
  else
    insert into public.agent_sessions (project_id, owner_id, workspace_id, chat_session_id, task_id, agent_type)
    values (w.project_id, w.owner_id, w.id, w.chat_session_id, w.task_id,
            coalesce(p_agent_type, t.agent_type, (select p.default_agent_type from public.projects p where p.id = w.project_id)))
    returning id into sid;
    insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id)
    values ('agent_session', sid, w.owner_id, w.project_id, 'starting', coalesce(public.sam_caller(), 'system'), public.sam_actor_id());
  end if;
  -- A resumed session keeps its hard cap; only the sliding window is fresh.
  cap := coalesce(cap, now_ + public.setting_interval('agent_token_max', w.project_id));
  exp := least(now_ + public.setting_interval('agent_token_ttl', w.project_id), cap);
  insert into public.tokens (kind, owner_id, project_id, node_id, workspace_id, agent_session_id, task_id, expires_at, max_expires_at)
  values ('agent', w.owner_id, w.project_id, w.node_id, w.id, sid, w.task_id, exp, cap)
  returning jti into j;
  if t.id is not null then perform public.sam_task_step(t.id, 'agent_session', 'agent session ' || sid); end if;
  return jsonb_build_object('agentSessionId', sid, 'jti', j, 'role', 'sam_agent', 'agent_session_id', sid,
    'workspace_id', w.id, 'project_id', w.project_id, 'task_id', w.task_id, 'exp', extract(epoch from exp)::bigint,
    'resumed', s.id is not null);
end $$;

create or replace function public.sam_agent_session_move(p_id uuid, p_from public.agent_session_status[],
  p_to public.agent_session_status, p_reason text default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare old public.agent_sessions;
begin
  select * into old from public.agent_sessions where id = p_id;
  if old.id is null or not coalesce(public.sam_caller() = 'system' or old.workspace_id = public.current_workspace_id()
                                    or (public.sam_caller() = 'user' and old.owner_id = auth.uid() and p_to = 'stopped'), false) then
    raise exception 'not allowed to act on agent session %', p_id using errcode = '42501';
  end if;
  perform public.sam_lock_task_of(null, p_id);
  select * into old from public.agent_sessions where id = p_id for update;
  if old.status = p_to then return false; end if;
  update public.agent_sessions set status = p_to, status_changed_at = public.sam_now(), updated_at = public.sam_now(),
         error_message = case when p_to = 'failed' then left(p_reason, 4000) else error_message end
   where id = p_id and status = any(p_from);
  if not found then
    raise exception 'agent session % cannot go from % to %', p_id, old.status, p_to using errcode = '55000';
  end if;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id, reason)
  values ('agent_session', p_id, old.owner_id, old.project_id, old.status::text, p_to::text,
          coalesce(public.sam_caller(), 'system'), public.sam_actor_id(), p_reason);
  perform public.sam_touch_activity(old.workspace_id);
  if public.is_terminal(p_to) then
    update public.tokens set revoked_at = public.sam_now(), revoked_reason = 'agent session ' || p_to
     where agent_session_id = p_id and revoked_at is null;
  end if;
  return true;
end $$;

-- A workspace no longer `creating` (ready already, or stopped by its user meanwhile) changes nothing.
create or replace function public.workspace_ready(p_workspace uuid default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(coalesce(p_workspace, public.current_workspace_id()), false);
  moved boolean;
begin
  perform public.sam_lock_task_of(w.id);
  select * into w from public.workspaces where id = w.id for update;
  if w.status <> 'creating' then return false; end if;
  moved := public.sam_workspace_move(w.id, array['creating']::public.workspace_status[], 'ready', 'workspace ready');
  if w.task_id is not null then perform public.sam_task_step(w.task_id, 'workspace_ready', 'workspace ready'); end if;
  return moved;
end $$;

create or replace function public.sam_fail_workspace(p_ws uuid, p_reason text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare a record; moved boolean; tid uuid;
begin
  perform public.sam_lock_task_of(p_ws);
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
