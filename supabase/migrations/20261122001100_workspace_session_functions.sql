-- Control plane, part 11: workspace and agent-session transitions, agent tokens, message batches.

create or replace function public.sam_touch_activity(p_workspace uuid) returns void
language sql security definer set search_path = '' as $$
  with w as (update public.workspaces set last_activity_at = public.sam_now() where id = p_workspace returning node_id)
  update public.nodes set last_activity_at = public.sam_now() where id in (select node_id from w)
$$;

-- Refuses unless the caller is the system, the workspace itself, or (when p_owner_ok) its owner.
create or replace function public.sam_authorize_workspace(p_workspace uuid, p_owner_ok boolean) returns public.workspaces
language plpgsql stable security definer set search_path = '' as $$
declare w public.workspaces;
begin
  select * into w from public.workspaces where id = p_workspace;
  if w.id is null or not (public.sam_caller() = 'system' or w.id = public.current_workspace_id()
                          or (p_owner_ok and public.sam_caller() = 'user' and w.owner_id = auth.uid())) then
    raise exception 'not allowed to act on workspace %', p_workspace using errcode = '42501';
  end if;
  return w;
end $$;

create or replace function public.sam_workspace_move(p_ws uuid, p_from public.workspace_status[], p_to public.workspace_status,
  p_reason text default null) returns boolean
language plpgsql security definer set search_path = '' as $$
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

create or replace function public.workspace_ready(p_workspace uuid default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(coalesce(p_workspace, public.current_workspace_id()), false);
  moved boolean;
begin
  moved := public.sam_workspace_move(w.id, array['creating']::public.workspace_status[], 'ready', 'workspace ready');
  if w.task_id is not null then perform public.sam_task_step(w.task_id, 'workspace_ready', 'workspace ready'); end if;
  return moved;
end $$;

create or replace function public.stop_workspace(p_workspace uuid, p_reason text default 'stop requested') returns boolean
language plpgsql security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(p_workspace, true);
begin
  return public.sam_workspace_move(w.id, array['creating', 'ready']::public.workspace_status[], 'stopping', p_reason);
end $$;

create or replace function public.workspace_stopped(p_workspace uuid default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(coalesce(p_workspace, public.current_workspace_id()), false);
begin
  return public.sam_workspace_move(w.id, array['creating', 'ready', 'stopping']::public.workspace_status[], 'stopped', 'stopped');
end $$;

create or replace function public.workspace_failed(p_error text, p_workspace uuid default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(coalesce(p_workspace, public.current_workspace_id()), false);
  moved boolean;
begin
  moved := public.sam_workspace_move(w.id, array['creating', 'ready', 'stopping']::public.workspace_status[], 'failed', p_error);
  if moved and w.task_id is not null
     and exists (select 1 from public.tasks where id = w.task_id and not public.is_terminal(status)) then
    perform public.fail_task(w.task_id, 'workspace failed: ' || coalesce(p_error, ''));
  end if;
  return moved;
end $$;

-- Orchestrator: mints the tokens row a workspace JWT is signed for.
create or replace function public.issue_workspace_token(p_workspace uuid) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare w public.workspaces; j uuid; exp timestamptz := public.sam_now() + public.setting_interval('workspace_token_ttl');
begin
  select * into w from public.workspaces where id = p_workspace and status in ('creating', 'ready');
  if w.id is null then raise exception 'workspace % is not live', p_workspace using errcode = '55000'; end if;
  insert into public.tokens (kind, owner_id, project_id, node_id, workspace_id, task_id, expires_at)
  values ('workspace', w.owner_id, w.project_id, w.node_id, w.id, w.task_id, exp) returning jti into j;
  return jsonb_build_object('jti', j, 'role', 'sam_workspace', 'workspace_id', w.id, 'node_id', w.node_id,
                            'project_id', w.project_id, 'exp', extract(epoch from exp)::bigint);
end $$;

create or replace function public.sam_agent_session_move(p_id uuid, p_from public.agent_session_status[],
  p_to public.agent_session_status, p_reason text default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare old public.agent_sessions;
begin
  select * into old from public.agent_sessions where id = p_id for update;
  if old.id is null or not (public.sam_caller() = 'system' or old.workspace_id = public.current_workspace_id()
                            or (public.sam_caller() = 'user' and old.owner_id = auth.uid() and p_to = 'stopped')) then
    raise exception 'not allowed to act on agent session %', p_id using errcode = '42501';
  end if;
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

-- The workspace starts an agent: a session row and the tokens row its MCP JWT is signed for.
create or replace function public.start_agent_session(p_agent_type text default null, p_workspace uuid default null)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare w public.workspaces := public.sam_authorize_workspace(coalesce(p_workspace, public.current_workspace_id()), false);
  t public.tasks; sid uuid; j uuid; now_ timestamptz := public.sam_now(); exp timestamptz;
begin
  if w.status <> 'ready' then raise exception 'workspace % is %', w.id, w.status using errcode = '55000'; end if;
  select * into t from public.tasks where id = w.task_id;
  insert into public.agent_sessions (project_id, owner_id, workspace_id, chat_session_id, task_id, agent_type)
  values (w.project_id, w.owner_id, w.id, w.chat_session_id, w.task_id, coalesce(p_agent_type, t.agent_type, 'opencode'))
  returning id into sid;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id)
  values ('agent_session', sid, w.owner_id, w.project_id, 'starting', coalesce(public.sam_caller(), 'system'), public.sam_actor_id());
  exp := now_ + public.setting_interval('agent_token_ttl', w.project_id);
  insert into public.tokens (kind, owner_id, project_id, node_id, workspace_id, agent_session_id, task_id, expires_at, max_expires_at)
  values ('agent', w.owner_id, w.project_id, w.node_id, w.id, sid, w.task_id, exp,
          now_ + public.setting_interval('agent_token_max', w.project_id))
  returning jti into j;
  if t.id is not null then perform public.sam_task_step(t.id, 'agent_session', 'agent session ' || sid); end if;
  return jsonb_build_object('agentSessionId', sid, 'jti', j, 'role', 'sam_agent', 'agent_session_id', sid,
    'workspace_id', w.id, 'project_id', w.project_id, 'task_id', w.task_id, 'exp', extract(epoch from exp)::bigint);
end $$;

-- Ready: the agent is up. The task's first ready agent moves it delegated → in_progress / running.
create or replace function public.agent_session_ready(p_id uuid) returns boolean
language plpgsql security definer set search_path = '' as $$
declare moved boolean; s public.agent_sessions;
begin
  moved := public.sam_agent_session_move(p_id, array['starting', 'recovering', 'prompting']::public.agent_session_status[], 'idle', 'ready');
  select * into s from public.agent_sessions where id = p_id;
  if s.task_id is not null and exists (select 1 from public.tasks where id = s.task_id and status = 'delegated') then
    perform public.sam_task_move(s.task_id, array['delegated']::public.task_status[], 'in_progress', 'running', 'agent started');
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, origin)
    values (s.chat_session_id, s.project_id, s.owner_id, 'task-started', 'system',
            'Task execution started — the agent is working on your request.', 'system')
    on conflict (session_id, message_id) do nothing;
  end if;
  return moved;
end $$;
create or replace function public.agent_session_prompting(p_id uuid) returns boolean
language sql security definer set search_path = '' as $$
  select public.sam_agent_session_move(p_id, array['idle']::public.agent_session_status[], 'prompting', 'prompt')
$$;
create or replace function public.agent_session_recovering(p_id uuid, p_reason text default 'agent crashed') returns boolean
language sql security definer set search_path = '' as $$
  select public.sam_agent_session_move(p_id, array['starting', 'idle', 'prompting']::public.agent_session_status[], 'recovering', p_reason)
$$;
create or replace function public.stop_agent_session(p_id uuid, p_reason text default 'stopped') returns boolean
language sql security definer set search_path = '' as $$
  select public.sam_agent_session_move(p_id, array['starting', 'idle', 'prompting', 'recovering']::public.agent_session_status[], 'stopped', p_reason)
$$;
create or replace function public.fail_agent_session(p_id uuid, p_error text) returns boolean
language sql security definer set search_path = '' as $$
  select public.sam_agent_session_move(p_id, array['starting', 'idle', 'prompting', 'recovering']::public.agent_session_status[], 'failed', p_error)
$$;

-- Agent tokens slide (8 h) up to their hard cap (24 h); owners and the system revoke.
create or replace function public.refresh_agent_token() returns timestamptz
language sql security definer set search_path = '' as $$
  update public.tokens set expires_at = least(public.sam_now() + public.setting_interval('agent_token_ttl', project_id), max_expires_at)
   where jti = (select jti from public.sam_token('agent')) returning expires_at
$$;
create or replace function public.revoke_token(p_jti uuid, p_reason text default 'revoked') returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  update public.tokens set revoked_at = public.sam_now(), revoked_reason = p_reason
   where jti = p_jti and revoked_at is null
     and (public.sam_caller() = 'system' or (public.sam_caller() = 'user' and owner_id = auth.uid()));
  return found;
end $$;
