-- "Always allow" on a permission card lasts for the task, in SQL: once the owner answered a
-- request "always", a later request of the same kind (the tool call's ACP kind, else its title)
-- from an agent session of the same task — a follow-up turn, an agent recovered after a crash, a
-- restarted vm-agent, a new workspace — or of a retry of that task is allowed at once, without a
-- card or a notification. It is still a row (status allowed_always, `allowed_by` = the request the
-- owner answered) with its lifecycle event, so what was allowed and on whose word stays readable.
-- A fork is a new conversation and asks again. Safe to run twice.

alter table public.permission_requests add column if not exists allowed_by uuid
  references public.permission_requests (id) on delete set null;
comment on column public.permission_requests.allowed_by is
  'allowed at once by this earlier request the owner answered "always" (null: put to the owner)';
create index if not exists permission_requests_allowed_by_idx on public.permission_requests (allowed_by);

-- The owner's standing "always" for a request of this kind by agent session `a`: from its task,
-- the tasks that task retries (up to 20 back), or the session itself when it has no task.
create or replace function public.sam_standing_permission(a public.agent_sessions, p_key text) returns uuid
language sql stable security definer set search_path = '' as $$
  with recursive lineage (id, depth) as (
    select a.task_id, 0 where a.task_id is not null
    union all
    select t.source_task_id, l.depth + 1
      from lineage l join public.tasks t on t.id = l.id
     where t.triggered_by = 'retry' and t.source_task_id is not null and l.depth < 20
  )
  select p.id from public.permission_requests p
   where p.status = 'allowed_always' and p.allowed_by is null and p.owner_id = a.owner_id
     and coalesce(p.tool_kind, p.title) = p_key
     and (p.agent_session_id = a.id or p.task_id in (select l.id from lineage l))
   order by p.answered_at, p.id
   limit 1
$$;

-- The vm-agent asks, for one of its agent sessions: a pending request, a card in the chat, a
-- high-urgency notification; answers {requestId, expiresAt}. A kind the owner allowed "always"
-- for the task is allowed at once: {requestId, expiresAt, decision: 'allow_always'}, no card.
create or replace function public.request_agent_permission(p_agent_session uuid, p_request jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare a public.agent_sessions; t public.tasks; r public.permission_requests; standing uuid;
  title text := left(coalesce(nullif(btrim(p_request ->> 'title'), ''), 'Use a tool'), 500);
  kind text := left(nullif(p_request ->> 'toolKind', ''), 32);
begin
  select * into a from public.agent_sessions where id = p_agent_session;
  if a.id is null or not coalesce(public.sam_caller() = 'system' or a.workspace_id = public.current_workspace_id(), false) then
    raise exception 'not allowed to ask for agent session %', p_agent_session using errcode = '42501';
  end if;
  if public.is_terminal(a.status) then
    raise exception 'agent session % is %', a.id, a.status using errcode = '55000';
  end if;
  select * into t from public.tasks where id = a.task_id;
  standing := public.sam_standing_permission(a, coalesce(kind, title));
  if standing is not null then
    insert into public.permission_requests (project_id, owner_id, task_id, chat_session_id, agent_session_id, workspace_id,
                                            tool_call_id, title, tool_kind, detail, status, expires_at, answered_at, allowed_by)
    values (a.project_id, a.owner_id, a.task_id, a.chat_session_id, a.id, a.workspace_id,
            left(nullif(p_request ->> 'toolCallId', ''), 200), title, kind, left(coalesce(p_request ->> 'detail', ''), 2000),
            'allowed_always', public.sam_now(), public.sam_now(), standing)
    returning * into r;
    insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id, reason)
    values ('permission_request', r.id, r.owner_id, r.project_id, 'allowed_always', coalesce(public.sam_caller(), 'system'),
            public.sam_actor_id(), left('always allowed (request ' || standing || '): ' || title, 200));
    return jsonb_build_object('requestId', r.id, 'expiresAt', r.expires_at, 'decision', 'allow_always');
  end if;
  insert into public.permission_requests (project_id, owner_id, task_id, chat_session_id, agent_session_id, workspace_id,
                                          tool_call_id, title, tool_kind, detail, expires_at)
  values (a.project_id, a.owner_id, a.task_id, a.chat_session_id, a.id, a.workspace_id,
          left(nullif(p_request ->> 'toolCallId', ''), 200), title, kind,
          left(coalesce(p_request ->> 'detail', ''), 2000),
          public.sam_now() + public.setting_interval('permission_request_ttl', a.project_id))
  returning * into r;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id, reason)
  values ('permission_request', r.id, r.owner_id, r.project_id, 'pending', coalesce(public.sam_caller(), 'system'),
          public.sam_actor_id(), left(title, 200));
  if r.chat_session_id is not null then
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
    values (r.chat_session_id, r.project_id, r.owner_id, 'permission:' || r.id, 'system', 'The agent asks to: ' || title,
            jsonb_build_object('kind', 'permission_request', 'permissionRequestId', r.id, 'title', title,
                               'toolKind', r.tool_kind, 'detail', r.detail, 'expiresAt', r.expires_at),
            'sam')
    on conflict (session_id, message_id) do nothing;
  end if;
  perform public.sam_notify(r.owner_id, r.project_id, r.task_id, 'needs_input', coalesce(t.title, 'Permission'),
                            'The agent asks to: ' || title, 'permission:' || r.id,
                            jsonb_build_object('permissionRequestId', r.id));
  return jsonb_build_object('requestId', r.id, 'expiresAt', r.expires_at);
end $$;

-- The outcome line under a card, in words ("always" now lasts for the task).
create or replace function public.sam_permission_outcome_note(r public.permission_requests, p_status text) returns void
language plpgsql security definer set search_path = '' as $$
begin
  if r.chat_session_id is null then return; end if;
  insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
  values (r.chat_session_id, r.project_id, r.owner_id, 'permission:' || r.id || ':outcome', 'system',
          case p_status
            when 'allowed_once' then 'Allowed once: ' || r.title
            when 'allowed_always' then 'Always allowed for this task: ' || r.title
            when 'rejected' then 'Rejected: ' || r.title
            when 'timed_out' then format('No answer within %s, so the agent was refused: %s',
                                         public.setting_interval('permission_request_ttl', r.project_id), r.title)
            else 'The agent no longer waits for this answer: ' || r.title end,
          jsonb_build_object('kind', 'permission_outcome', 'permissionRequestId', r.id, 'outcome', p_status),
          'sam')
  on conflict (session_id, message_id) do nothing;
end $$;

revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
grant execute on function public.request_agent_permission(uuid, jsonb) to sam_workspace;
