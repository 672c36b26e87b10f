-- Control plane, part 12: message batches (idempotent per session and message id), user
-- messages, and questions agents ask humans.

-- The vm-agent's outbox flushes batches of 1..max_message_batch messages of one session. A re-sent
-- batch, or any re-sent message, is a no-op. Returns {persisted, duplicates}.
create or replace function public.record_messages(p_session uuid, p_batch jsonb) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare s public.chat_sessions; n integer; persisted integer;
begin
  select * into s from public.chat_sessions where id = p_session;
  if s.id is null or not (public.sam_caller() = 'system'
                          or (s.workspace_id is not null and s.workspace_id = public.current_workspace_id())) then
    raise exception 'not allowed to write to session %', p_session using errcode = '42501';
  end if;
  n := case when jsonb_typeof(p_batch) = 'array' then jsonb_array_length(p_batch) else 0 end;
  if n < 1 or n > public.setting_int('max_message_batch', s.project_id) then
    raise exception 'a batch holds 1 to % messages', public.setting_int('max_message_batch', s.project_id) using errcode = '22023';
  end if;
  with ins as (
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin, sent_at)
    select s.id, s.project_id, s.owner_id, m."messageId", m.role::public.message_role, coalesce(m.content, ''),
           m."toolMetadata", m.origin, m."timestamp"
      from jsonb_to_recordset(p_batch) as m("messageId" text, role text, content text, "toolMetadata" jsonb,
                                             origin text, "timestamp" timestamptz)
    on conflict (session_id, message_id) do nothing
    returning 1)
  select count(*) into persisted from ins;
  if persisted > 0 and s.workspace_id is not null then perform public.sam_touch_activity(s.workspace_id); end if;
  return jsonb_build_object('persisted', persisted, 'duplicates', n - persisted);
end $$;

-- A user writes into their chat; a live agent gets it as a prompt through the node.
create or replace function public.post_message(p_session uuid, p_content text, p_message_id text default null) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare s public.chat_sessions; mid text := coalesce(p_message_id, 'user:' || extensions.gen_random_uuid()); a public.agent_sessions;
  inserted boolean;
begin
  select * into s from public.chat_sessions where id = p_session;
  if s.id is null or not (public.sam_caller() = 'system' or (public.sam_caller() = 'user' and s.owner_id = auth.uid())) then
    raise exception 'not allowed to write to session %', p_session using errcode = '42501';
  end if;
  if p_content is null or length(p_content) not between 1 and 16000 then
    raise exception 'a message is 1 to 16000 characters' using errcode = '22023';
  end if;
  insert into public.messages (session_id, project_id, owner_id, message_id, role, content, origin)
  values (s.id, s.project_id, s.owner_id, mid, 'user', p_content, 'user')
  on conflict (session_id, message_id) do nothing;
  inserted := found;
  if inserted then
    select * into a from public.agent_sessions where chat_session_id = s.id and status in ('idle', 'prompting', 'recovering')
     order by created_at desc limit 1;
    if a.id is not null then
      insert into public.node_commands (node_id, owner_id, workspace_id, kind, payload, dedupe_key)
      select w.node_id, s.owner_id, w.id, 'prompt',
             jsonb_build_object('agentSessionId', a.id, 'messageId', mid, 'content', p_content), 'prompt:' || s.id || ':' || mid
        from public.workspaces w where w.id = a.workspace_id
      on conflict (dedupe_key) do nothing;
      perform public.sam_touch_activity(a.workspace_id);
    end if;
  end if;
  return jsonb_build_object('messageId', mid, 'persisted', inserted);
end $$;

-- MCP request_human_input: a question, a high-urgency notification, a system message in the chat.
create or replace function public.request_human_input(p_context text, p_category text default 'clarification',
  p_options jsonb default '[]') returns uuid
language plpgsql security definer set search_path = '' as $$
declare a public.tokens; t public.tasks; rid uuid;
begin
  select * into a from public.sam_token('agent');
  if a.jti is null then raise exception 'an agent token is required' using errcode = '42501'; end if;
  select * into t from public.tasks where id = a.task_id;
  insert into public.human_input_requests (project_id, owner_id, task_id, chat_session_id, agent_session_id, category,
                                           context, options, expires_at)
  values (a.project_id, a.owner_id, a.task_id, t.chat_session_id, a.agent_session_id, p_category, p_context,
          coalesce(p_options, '[]'), public.sam_now() + public.setting_interval('human_input_ttl', a.project_id))
  returning id into rid;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id, reason)
  values ('human_input', rid, a.owner_id, a.project_id, 'pending', 'agent', a.agent_session_id::text, p_category);
  if t.chat_session_id is not null then
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
    values (t.chat_session_id, a.project_id, a.owner_id, 'question:' || rid, 'system', p_context,
            jsonb_build_object('humanInputRequestId', rid, 'category', p_category, 'options', p_options), 'agent');
  end if;
  perform public.sam_notify(a.owner_id, a.project_id, a.task_id, 'needs_input', coalesce(t.title, 'Question'), p_context,
                            'needs_input:' || rid, jsonb_build_object('humanInputRequestId', rid));
  return rid;
end $$;

-- The owner answers once; repeating changes nothing. The answer reaches the agent as a prompt.
create or replace function public.answer_human_input(p_request uuid, p_answer text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare r public.human_input_requests;
begin
  select * into r from public.human_input_requests where id = p_request;
  if r.id is null or not (public.sam_caller() = 'system' or (public.sam_caller() = 'user' and r.owner_id = auth.uid())) then
    raise exception 'not allowed to answer %', p_request using errcode = '42501';
  end if;
  update public.human_input_requests set status = 'answered', answer = p_answer, answered_by = auth.uid(),
         answered_at = public.sam_now()
   where id = p_request and status = 'pending' and expires_at > public.sam_now();
  if not found then
    if r.status = 'answered' then return false; end if;
    raise exception 'question % is % and cannot be answered', p_request,
      case when r.status = 'pending' then 'expired' else r.status::text end using errcode = '55000';
  end if;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id)
  values ('human_input', r.id, r.owner_id, r.project_id, 'pending', 'answered', coalesce(public.sam_caller(), 'system'),
          public.sam_actor_id());
  if r.chat_session_id is not null then
    perform public.post_message(r.chat_session_id, p_answer, 'answer:' || r.id);
  end if;
  return true;
end $$;
