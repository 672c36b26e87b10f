-- SAM writes some chat lines itself, under message ids of its own: 'initial' (sam_create_task),
-- 'task-started' (agent_session_ready), 'task-failed' (sam_fail_task), 'question:<id>'
-- (request_human_input), 'answer:<id>' and 'user:<uuid>' (post_message), 'directive:<id>'
-- (send_directive), 'progress:<uuid>' (report_task_progress). Messages are unique per session and
-- message id and inserted with `on conflict do nothing`, so a workspace that sent one of these ids
-- first would take SAM's line (a forged answer, a hidden failure). A workspace's batch keeps its
-- own ids, but a reserved one — or one already in the workspace namespace 'agent:' — is stored as
-- 'agent:<id>'. The mapping is one-to-one, so re-sent batches are still no-ops. Safe to run twice.

create or replace function public.sam_is_reserved_message_id(p_id text) returns boolean
language sql immutable set search_path = '' as $$
  select p_id in ('initial', 'task-started', 'task-failed')
      or p_id ~ '^(question|answer|user|directive|progress|agent):'
$$;

-- As part 12's version; a workspace's reserved ids go into its namespace, and the caller check is
-- NULL-safe (for an agent or a user, current_workspace_id() is NULL, which let them through).
create or replace function public.record_messages(p_session uuid, p_batch jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare s public.chat_sessions; n integer; persisted integer; from_workspace boolean;
begin
  select * into s from public.chat_sessions where id = p_session;
  if s.id is null or not coalesce(public.sam_caller() = 'system'
                                   or (s.workspace_id is not null and s.workspace_id = public.current_workspace_id()), false) then
    raise exception 'not allowed to write to session %', p_session using errcode = '42501';
  end if;
  from_workspace := public.sam_caller() is distinct from 'system';
  n := case when jsonb_typeof(p_batch) = 'array' then jsonb_array_length(p_batch) else 0 end;
  if n < 1 or n > public.setting_int('max_message_batch', s.project_id) then
    raise exception 'a batch holds 1 to % messages', public.setting_int('max_message_batch', s.project_id) using errcode = '22023';
  end if;
  with ins as (
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin, sent_at)
    select s.id, s.project_id, s.owner_id,
           case when from_workspace and public.sam_is_reserved_message_id(m."messageId") then 'agent:' || m."messageId"
                else m."messageId" end,
           m.role::public.message_role, coalesce(m.content, ''), m."toolMetadata", m.origin, m."timestamp"
      from jsonb_to_recordset(p_batch) as m("messageId" text, role text, content text, "toolMetadata" jsonb,
                                             origin text, "timestamp" timestamptz)
    on conflict (session_id, message_id) do nothing
    returning 1)
  select count(*) into persisted from ins;
  if persisted > 0 and s.workspace_id is not null then perform public.sam_touch_activity(s.workspace_id); end if;
  return jsonb_build_object('persisted', persisted, 'duplicates', n - persisted);
end $$;

-- As every migration ends: nothing executable by public or anon, everything by service_role.
revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
