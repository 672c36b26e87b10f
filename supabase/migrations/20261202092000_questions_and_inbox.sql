-- Answering the agent, and the notifications inbox.
--
-- Questions (request_human_input): the chat's question line carries what its card needs (kind,
-- options, expiry). An answer is a user line `answer:<id>` in the chat and an `answer` directive
-- for the task (get_pending_messages). An agent between turns (session `idle`: a conversation
-- waiting, or an agent that ended its turn) gets the answer as a prompt with the question quoted;
-- an agent still in its turn reads it with get_pending_messages, and if its turn ends with the
-- answer unread, the answer is prompted then. Once the machine takes the prompt the directive is
-- delivered (send_directive's trigger), so the agent gets it once. A question nobody answered in
-- time says so in the chat (`question:<id>:outcome`) and tells the agent to go on without.
--
-- Notifications: every notification but `progress` is broadcast on the owner's private topic
-- `user:<id>` (event `notification`); only that user may join it. Users mark their own rows read
-- through the existing column grant and RLS policy (update of read_at, owner only).
-- Safe to run twice.

-- Topics: project:<id>, session:<id> (owners), and user:<own id>.
create or replace function public.sam_can_use_topic(p_topic text) returns boolean
language sql stable security definer set search_path = '' as $$
  select case
    when p_topic ~ '^project:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      exists (select 1 from public.projects where id = substr(p_topic, 9)::uuid and owner_id = auth.uid())
    when p_topic ~ '^session:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      exists (select 1 from public.chat_sessions where id = substr(p_topic, 9)::uuid and owner_id = auth.uid())
    when p_topic ~ '^user:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      coalesce(substr(p_topic, 6)::uuid = auth.uid(), false)
    else false
  end and public.sam_role() = 'authenticated'
$$;

-- The inbox's row shape, as the web reads it from the table and from the broadcast.
create or replace function public.sam_notification_json(n public.notifications) returns jsonb
language sql stable set search_path = '' as $$
  select jsonb_build_object('id', n.id, 'type', n.type, 'urgency', n.urgency, 'title', n.title, 'body', n.body,
    'projectId', n.project_id, 'taskId', n.task_id, 'metadata', n.metadata, 'readAt', n.read_at,
    'createdAt', n.created_at)
$$;

create or replace function public.sam_broadcast_notifications() returns trigger
language plpgsql security definer set search_path = '' as $$
declare r public.notifications;
begin
  for r in select * from new_rows where type <> 'progress' order by created_at, id loop
    perform realtime.send(public.sam_notification_json(r), 'notification', 'user:' || r.owner_id, true);
  end loop;
  return null;
end $$;
drop trigger if exists notifications_broadcast on public.notifications;
create trigger notifications_broadcast after insert on public.notifications
  referencing new table as new_rows for each statement execute function public.sam_broadcast_notifications();

-- As part 12's version; the chat line also carries `kind` and `expiresAt` for its card.
create or replace function public.request_human_input(p_context text, p_category text default 'clarification',
  p_options jsonb default '[]') returns uuid
language plpgsql security definer set search_path = '' as $$
declare a public.tokens; t public.tasks; rid uuid; expires timestamptz;
begin
  select * into a from public.sam_token('agent');
  if a.jti is null then raise exception 'an agent token is required' using errcode = '42501'; end if;
  select * into t from public.tasks where id = a.task_id;
  expires := public.sam_now() + public.setting_interval('human_input_ttl', a.project_id);
  insert into public.human_input_requests (project_id, owner_id, task_id, chat_session_id, agent_session_id, category,
                                           context, options, expires_at)
  values (a.project_id, a.owner_id, a.task_id, t.chat_session_id, a.agent_session_id, p_category, p_context,
          coalesce(p_options, '[]'), expires)
  returning id into rid;
  insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, to_state, actor_type, actor_id, reason)
  values ('human_input', rid, a.owner_id, a.project_id, 'pending', 'agent', a.agent_session_id::text, p_category);
  if t.chat_session_id is not null then
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
    values (t.chat_session_id, a.project_id, a.owner_id, 'question:' || rid, 'system', p_context,
            jsonb_build_object('kind', 'human_input', 'humanInputRequestId', rid, 'category', p_category,
                               'options', coalesce(p_options, '[]'), 'expiresAt', expires), 'agent');
  end if;
  perform public.sam_notify(a.owner_id, a.project_id, a.task_id, 'needs_input', coalesce(t.title, 'Question'), p_context,
                            'needs_input:' || rid, jsonb_build_object('humanInputRequestId', rid));
  return rid;
end $$;

-- Answers and expiries the task's agent has not read yet, as prompts to its agent when that is
-- between turns (`idle`). Returns how many prompts were queued; safe to repeat (dedupe per directive).
create or replace function public.sam_prompt_unread_answers(p_task uuid) returns integer
language plpgsql security definer set search_path = '' as $$
declare a public.agent_sessions; d record; n integer := 0;
begin
  select * into a from public.agent_sessions where task_id = p_task and status = 'idle'
   order by created_at desc limit 1;
  if a.id is null then return 0; end if;
  for d in select id, kind, content, metadata from public.directives
            where task_id = p_task and delivered_at is null and metadata ? 'humanInputRequestId'
            order by created_at, id loop
    insert into public.node_commands (node_id, owner_id, workspace_id, kind, payload, dedupe_key)
    select w.node_id, a.owner_id, w.id, 'prompt',
           jsonb_build_object('agentSessionId', a.id, 'messageId', 'directive:' || d.id, 'directiveId', d.id,
                              'content', case when d.kind = 'answer'
                                then 'The answer to your question "' || left(d.metadata ->> 'question', 500) || '": '
                                     || d.content
                                else d.content end),
           'directive:' || d.id
      from public.workspaces w where w.id = a.workspace_id and not public.is_terminal(w.status)
    on conflict (dedupe_key) do nothing;
    if found then n := n + 1; end if;
  end loop;
  if n > 0 then perform public.sam_touch_activity(a.workspace_id); end if;
  return n;
end $$;

-- As part 12's version, but the answer is not a follow-up prompt of its own (post_message): it is
-- the user's line in the chat, the directive above, and a prompt only for an agent between turns.
-- Answering also marks the question's notification read.
create or replace function public.answer_human_input(p_request uuid, p_answer text) returns boolean
language plpgsql security definer set search_path = '' as $$
declare r public.human_input_requests;
begin
  select * into r from public.human_input_requests where id = p_request;
  if r.id is null or not coalesce(public.sam_caller() = 'system'
                                  or (public.sam_caller() = 'user' and r.owner_id = auth.uid()), false) then
    raise exception 'not allowed to answer %', p_request using errcode = '42501';
  end if;
  if p_answer is null or length(btrim(p_answer)) = 0 or length(p_answer) > 16000 then
    raise exception 'an answer is 1 to 16000 characters' using errcode = '22023';
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
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
    values (r.chat_session_id, r.project_id, r.owner_id, 'answer:' || r.id, 'user', p_answer,
            jsonb_build_object('kind', 'human_input_answer', 'humanInputRequestId', r.id), 'user')
    on conflict (session_id, message_id) do nothing;
  end if;
  if r.task_id is not null then perform public.sam_prompt_unread_answers(r.task_id); end if;
  update public.notifications set read_at = public.sam_now()
   where owner_id = r.owner_id and dedupe_key = 'needs_input:' || r.id and read_at is null;
  return true;
end $$;

-- An agent whose turn ended with an answer unread gets it as its next prompt.
create or replace function public.sam_agent_idle_answers() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform public.sam_prompt_unread_answers(new.task_id);
  return null;
end $$;
drop trigger if exists agent_sessions_idle_answers on public.agent_sessions;
create trigger agent_sessions_idle_answers after update of status on public.agent_sessions
  for each row when (new.status = 'idle' and old.status is distinct from 'idle' and new.task_id is not null)
  execute function public.sam_agent_idle_answers();

-- As part 12's per-row version; an expired question says so in the chat and tells its agent.
create or replace function public.sweep_human_input() returns integer
language plpgsql security definer set search_path = '' as $$
declare r record; n integer := 0; t public.tasks;
begin
  for r in select id, owner_id, project_id, task_id, chat_session_id, context from public.human_input_requests
            where status = 'pending' and expires_at <= public.sam_now()
            order by expires_at limit public.setting_int('sweep_batch') for update skip locked loop
    begin
      update public.human_input_requests set status = 'expired' where id = r.id and status = 'pending';
      if found then
        insert into public.lifecycle_events (entity, entity_id, owner_id, project_id, from_state, to_state, actor_type, actor_id)
        values ('human_input', r.id, r.owner_id, r.project_id, 'pending', 'expired', 'system', public.sam_actor_id());
        if r.chat_session_id is not null then
          insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_metadata, origin)
          values (r.chat_session_id, r.project_id, r.owner_id, 'question:' || r.id || ':outcome', 'system',
                  'Nobody answered in time: the question expired.',
                  jsonb_build_object('kind', 'human_input_expired', 'humanInputRequestId', r.id), 'system')
          on conflict (session_id, message_id) do nothing;
        end if;
        select * into t from public.tasks where id = r.task_id;
        if t.id is not null and not public.is_terminal(t.status) then
          insert into public.directives (project_id, owner_id, task_id, kind, content, metadata)
          values (r.project_id, r.owner_id, r.task_id, 'message',
                  'Nobody answered your question "' || left(r.context, 500) || '" in time; it expired. '
                  || 'Go on with your best judgement.',
                  jsonb_build_object('humanInputRequestId', r.id, 'expired', true));
          perform public.sam_prompt_unread_answers(r.task_id);
        end if;
        n := n + 1;
      end if;
    exception when others then
      raise warning 'sweep_human_input: question % skipped: % (SQLSTATE %)', r.id, sqlerrm, sqlstate;
    end;
  end loop;
  return n;
end $$;

revoke execute on all functions in schema public from public, anon;
grant execute on all functions in schema public to service_role;
grant execute on function public.sam_can_use_topic(text) to authenticated;
