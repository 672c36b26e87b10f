-- Control plane, part 14: Realtime. Private topics `project:<id>` and `session:<id>`; only the
-- project's owner may join them (RLS on realtime.messages, checked by Realtime's join probe).
-- Message inserts are broadcast once per inserted batch (statement trigger with a transition
-- table); every task status or step change is broadcast on the project's topic.

create or replace function public.sam_can_use_topic(p_topic text) returns boolean
language sql stable security definer set search_path = '' as $$
  select case
    when p_topic ~ '^project:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      exists (select 1 from public.projects where id = substr(p_topic, 9)::uuid and owner_id = auth.uid())
    when p_topic ~ '^session:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
      exists (select 1 from public.chat_sessions where id = substr(p_topic, 9)::uuid and owner_id = auth.uid())
    else false
  end and public.sam_role() = 'authenticated'
$$;
revoke execute on function public.sam_can_use_topic(text) from public, anon;
grant execute on function public.sam_can_use_topic(text) to authenticated, service_role;

drop policy if exists "Project owners can receive their project and session broadcasts" on realtime.messages;
create policy "Project owners can receive their project and session broadcasts" on realtime.messages
  for select to authenticated
  using (realtime.messages.extension in ('broadcast', 'presence') and (select public.sam_can_use_topic(realtime.topic())));
drop policy if exists "Project owners can send on their project and session topics" on realtime.messages;
create policy "Project owners can send on their project and session topics" on realtime.messages
  for insert to authenticated
  with check (realtime.messages.extension in ('broadcast', 'presence') and (select public.sam_can_use_topic(realtime.topic())));

-- One broadcast per inserted batch and session, carrying the batch.
create or replace function public.sam_broadcast_messages() returns trigger
language plpgsql security definer set search_path = '' as $$
declare r record;
begin
  for r in
    select session_id, jsonb_agg(jsonb_build_object('id', id, 'messageId', message_id, 'role', role, 'content', content,
             'toolMetadata', tool_metadata, 'origin', origin, 'createdAt', created_at) order by id) as msgs, count(*) as n
      from new_rows group by session_id
  loop
    perform realtime.send(jsonb_build_object('sessionId', r.session_id, 'count', r.n, 'messages', r.msgs),
                          'messages', 'session:' || r.session_id, true);
  end loop;
  return null;
end $$;
create or replace trigger messages_broadcast after insert on public.messages
  referencing new table as new_rows for each statement execute function public.sam_broadcast_messages();

create or replace function public.sam_broadcast_task() returns trigger
language plpgsql security definer set search_path = '' as $$
declare payload jsonb;
begin
  payload := jsonb_build_object('taskId', new.id, 'projectId', new.project_id, 'status', new.status,
    'executionStep', new.execution_step, 'previousStatus', case when tg_op = 'UPDATE' then old.status end,
    'previousStep', case when tg_op = 'UPDATE' then old.execution_step end, 'title', new.title,
    'parentTaskId', new.parent_task_id, 'sessionId', new.chat_session_id, 'branch', new.branch, 'prUrl', new.pr_url,
    'errorMessage', new.error_message, 'at', public.sam_now());
  perform realtime.send(payload, 'task', 'project:' || new.project_id, true);
  if new.chat_session_id is not null then
    perform realtime.send(payload, 'task', 'session:' || new.chat_session_id, true);
  end if;
  return null;
end $$;
create or replace trigger tasks_broadcast_insert after insert on public.tasks
  for each row execute function public.sam_broadcast_task();
create or replace trigger tasks_broadcast_change after update of status, execution_step on public.tasks
  for each row when (old.status is distinct from new.status or old.execution_step is distinct from new.execution_step)
  execute function public.sam_broadcast_task();

revoke execute on function public.sam_broadcast_messages(), public.sam_broadcast_task() from public, anon;
