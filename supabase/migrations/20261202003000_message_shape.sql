-- One message shape end to end (functions/_shared/common/contracts/messages.ts):
--  * a tool call's id and status are columns of their own (`tool_call_id`, `tool_status`), no longer
--    folded into `tool_metadata` (which keeps the record's other metadata; the chat calls it `metadata`);
--  * one name per clock: `produced_at` is when the VM agent made the record (was `sent_at`),
--    `created_at` when the database stored it;
--  * one object per stored message: the `session:<id>` broadcast carries the inserted rows exactly as
--    `get_session_messages` returns them, so clients map a row once (`toChatMessage`);
--  * a batch is the agent's side of the chat: only SAM writes the user's messages (post_message,
--    submit_task). A workspace's `user` record is stored as what it is — the agent's echo: an
--    `assistant` record marked `metadata.echo = 'user'` (vm-agent/acp/records.ts writes echoes so);
--    so are the echoes stored as `user` before (origin null).
-- record_messages keeps what 20261202000500_reserved_message_ids.sql (when present) gave it: the
-- NULL-safe caller check and SAM's reserved message ids moved into the 'agent:' namespace.
-- Safe to run twice.

do $$
begin
  if not exists (select 1 from pg_type where typname = 'tool_status' and typnamespace = 'public'::regnamespace) then
    create type public.tool_status as enum ('pending', 'in_progress', 'completed', 'failed');
  end if;
  if exists (select 1 from information_schema.columns
              where table_schema = 'public' and table_name = 'messages' and column_name = 'sent_at') then
    alter table public.messages rename column sent_at to produced_at;
  end if;
end $$;

alter table public.messages add column if not exists tool_call_id text;
alter table public.messages add column if not exists tool_status public.tool_status;
alter table public.messages add column if not exists produced_at timestamptz;

comment on column public.messages.tool_metadata is
  'The record''s metadata (ACP update kind, tool kind/locations/diffs, plan entries, …); readers get it as `metadata`.';
comment on column public.messages.produced_at is 'When the VM agent produced the record (null for SAM''s own messages).';
comment on column public.messages.created_at is 'When the database stored the message.';

-- Backfill: the tool fields out of the JSON they were folded into.
update public.messages
   set tool_call_id = coalesce(tool_call_id, nullif(left(tool_metadata ->> 'toolCallId', 200), '')),
       tool_status = coalesce(tool_status,
         case when tool_metadata ->> 'toolStatus' in ('pending', 'in_progress', 'completed', 'failed')
              then (tool_metadata ->> 'toolStatus')::public.tool_status end),
       tool_metadata = tool_metadata - 'toolCallId' - 'toolStatus'
 where role = 'tool' and tool_metadata ?| array['toolCallId', 'toolStatus'];

-- Agents' echoes stored as the user's own words: every message SAM writes for the user has an origin.
update public.messages
   set role = 'assistant', tool_metadata = coalesce(tool_metadata, '{}'::jsonb) || '{"echo": "user"}'::jsonb
 where role = 'user' and origin is null;

create or replace function pg_temp.ensure_constraint(tbl regclass, name text, def text) returns void
language plpgsql as $$
begin
  if not exists (select 1 from pg_constraint where conrelid = tbl and conname = name) then
    execute format('alter table %s add constraint %I %s', tbl, name, def);
  end if;
end $$;
select pg_temp.ensure_constraint('public.messages', 'messages_tool_fields_only_on_tool_records',
  'check (role = ''tool'' or (tool_call_id is null and tool_status is null))');
select pg_temp.ensure_constraint('public.messages', 'messages_tool_call_id_length',
  'check (length(tool_call_id) between 1 and 200)');

-- One broadcast per inserted batch and session, carrying the inserted rows as get_session_messages returns them.
create or replace function public.sam_broadcast_messages() returns trigger
language plpgsql security definer set search_path = '' as $$
declare r record;
begin
  for r in
    select n.session_id, jsonb_agg(to_jsonb(n) order by n.id) as msgs, count(*) as c
      from new_rows n group by n.session_id
  loop
    perform realtime.send(jsonb_build_object('sessionId', r.session_id, 'count', r.c, 'messages', r.msgs),
                          'messages', 'session:' || r.session_id, true);
  end loop;
  return null;
end $$;

-- The read (as in 20261202000400_user_quotas_message_page.sql, which defines it the same way where
-- present): a page of a chat session's messages, oldest first — the newest page (or the page before
-- message row id p_before), or with p_after the messages after that row id. At most max_message_page
-- messages whatever p_limit asks (default 50). Readable by the session's owner, the agents of its
-- project, its workspace and the system.
insert into public.settings (key, value, kind, description)
select 'max_message_page', '200', 'integer', 'messages one get_session_messages page returns at most'
 where not exists (select 1 from public.settings where key = 'max_message_page');

create or replace function public.get_session_messages(p_session uuid, p_limit integer default 50,
  p_before bigint default null, p_after bigint default null) returns setof public.messages
language plpgsql stable security definer set search_path = '' as $$
declare s public.chat_sessions; lim integer;
begin
  select * into s from public.chat_sessions where id = p_session;
  if s.id is null or not coalesce(case public.sam_caller()
      when 'system' then true
      when 'user' then s.owner_id = auth.uid()
      when 'agent' then s.project_id = public.current_agent_project_id()
      when 'workspace' then s.workspace_id = public.current_workspace_id()
      else false end, false) then
    raise exception 'not allowed to read session %', p_session using errcode = '42501';
  end if;
  lim := least(greatest(coalesce(p_limit, 50), 1), public.setting_int('max_message_page'));
  if p_after is not null then
    return query select m.* from public.messages m where m.session_id = p_session and m.id > p_after order by m.id limit lim;
  else
    return query select x.* from (select m.* from public.messages m where m.session_id = p_session
                                     and (p_before is null or m.id < p_before) order by m.id desc limit lim) x
                 order by x.id;
  end if;
end $$;

-- SAM's own message ids (as in 20261202000500_reserved_message_ids.sql, where present).
create or replace function public.sam_is_reserved_message_id(p_id text) returns boolean
language sql immutable set search_path = '' as $$
  select p_id in ('initial', 'task-started', 'task-failed')
      or p_id ~ '^(question|answer|user|directive|progress|agent):'
$$;

-- The vm-agent's outbox flushes batches of 1..max_message_batch records of one session, each field
-- by its contract name. A re-sent batch, or any re-sent message, is a no-op. Returns {persisted, duplicates}.
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
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_call_id, tool_status,
                                 tool_metadata, origin, produced_at)
    select s.id, s.project_id, s.owner_id,
           case when from_workspace and public.sam_is_reserved_message_id(m."messageId") then 'agent:' || m."messageId"
                else m."messageId" end,
           case when from_workspace and m.role = 'user' then 'assistant' else m.role end::public.message_role,
           coalesce(m.content, ''), m."toolCallId", m."toolStatus"::public.tool_status,
           case when from_workspace and m.role = 'user' then coalesce(m.metadata, '{}'::jsonb) || '{"echo": "user"}'::jsonb
                else m.metadata end,
           m.origin, m."producedAt"
      from jsonb_to_recordset(p_batch) as m("messageId" text, role text, content text, "toolCallId" text,
                                             "toolStatus" text, metadata jsonb, origin text, "producedAt" timestamptz)
    on conflict (session_id, message_id) do nothing
    returning 1)
  select count(*) into persisted from ins;
  if persisted > 0 and s.workspace_id is not null then perform public.sam_touch_activity(s.workspace_id); end if;
  return jsonb_build_object('persisted', persisted, 'duplicates', n - persisted);
end $$;

revoke execute on function public.get_session_messages(uuid, integer, bigint, bigint),
  public.sam_is_reserved_message_id(text) from public, anon;
grant execute on function public.get_session_messages(uuid, integer, bigint, bigint),
  public.sam_is_reserved_message_id(text) to service_role;
grant execute on function public.get_session_messages(uuid, integer, bigint, bigint)
  to authenticated, sam_agent, sam_workspace;
