-- Caller checks that a NULL cannot pass. For a user or an agent, current_workspace_id() is NULL,
-- so `w.id = current_workspace_id()` was NULL rather than false, `not (… or NULL)` was NULL, and
-- `if NULL then raise` did not raise: any signed-in user could stop any agent session
-- (stop_agent_session), and the workspace-only transitions let users and agents through. Each check
-- now treats unknown as "not allowed". Safe to run twice.

-- As part 11's version, NULL-safe.
create or replace function public.sam_authorize_workspace(p_workspace uuid, p_owner_ok boolean) returns public.workspaces
language plpgsql stable security definer set search_path = '' as $$
declare w public.workspaces;
begin
  select * into w from public.workspaces where id = p_workspace;
  if w.id is null or not coalesce(public.sam_caller() = 'system' or w.id = public.current_workspace_id()
                                  or (p_owner_ok and public.sam_caller() = 'user' and w.owner_id = auth.uid()), false) then
    raise exception 'not allowed to act on workspace %', p_workspace using errcode = '42501';
  end if;
  return w;
end $$;

-- As part 11's version, NULL-safe.
create or replace function public.sam_agent_session_move(p_id uuid, p_from public.agent_session_status[],
  p_to public.agent_session_status, p_reason text default null) returns boolean
language plpgsql security definer set search_path = '' as $$
declare old public.agent_sessions;
begin
  select * into old from public.agent_sessions where id = p_id for update;
  if old.id is null or not coalesce(public.sam_caller() = 'system' or old.workspace_id = public.current_workspace_id()
                                    or (public.sam_caller() = 'user' and old.owner_id = auth.uid() and p_to = 'stopped'), false) then
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

-- As 20261123000200_vm_agent's version, NULL-safe.
create or replace function public.record_agent_messages(p_agent_session uuid, p_batch jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare s public.agent_sessions;
begin
  select * into s from public.agent_sessions where id = p_agent_session;
  if s.id is null or not coalesce(public.sam_caller() = 'system' or s.workspace_id = public.current_workspace_id(), false) then
    raise exception 'not allowed to write to agent session %', p_agent_session using errcode = '42501';
  end if;
  if s.chat_session_id is null then
    raise exception 'agent session % has no chat session', p_agent_session using errcode = '55000';
  end if;
  return public.record_messages(s.chat_session_id, p_batch);
end $$;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
