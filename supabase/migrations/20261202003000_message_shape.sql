-- One message shape end to end (functions/_shared/common/contracts/messages.ts):
--  * a tool call's id and status are columns of their own (`tool_call_id`, `tool_status`), no longer
--    folded into `tool_metadata` (which keeps the record's other metadata; readers call it `metadata`);
--  * one name per clock: `produced_at` is when the VM agent made the record (was `sent_at`),
--    `created_at` when the database stored it;
--  * one row -> client object mapping, `sam_message_json`, used by the `session:<id>` broadcast and by
--    the `get_session_messages` read, so both carry exactly the same object;
--  * a batch is the agent's side of the chat: `record_messages` refuses the `user` role (only SAM
--    writes the user's messages, through post_message / submit_task); what agents stored as `user`
--    before (their echo of a prompt, origin null) becomes what it is: an `assistant` record marked
--    `metadata.echo = 'user'`.
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

-- The one row -> client object mapping (contract: ChatMessage in functions/_shared/common/contracts/messages.ts).
create or replace function public.sam_message_json(m public.messages) returns jsonb
language sql immutable set search_path = '' as $$
  select jsonb_build_object('id', m.id, 'messageId', m.message_id, 'role', m.role, 'content', m.content,
    'toolCallId', m.tool_call_id, 'toolStatus', m.tool_status, 'metadata', m.tool_metadata, 'origin', m.origin,
    'producedAt', m.produced_at, 'createdAt', m.created_at)
$$;

-- One broadcast per inserted batch and session, carrying the batch in the read's shape.
create or replace function public.sam_broadcast_messages() returns trigger
language plpgsql security definer set search_path = '' as $$
declare r record;
begin
  for r in
    select n.session_id, jsonb_agg(public.sam_message_json(n::public.messages) order by n.id) as msgs, count(*) as c
      from new_rows n group by n.session_id
  loop
    perform realtime.send(jsonb_build_object('sessionId', r.session_id, 'count', r.c, 'messages', r.msgs),
                          'messages', 'session:' || r.session_id, true);
  end loop;
  return null;
end $$;

-- The read: a session's messages after `p_after` (a message id), oldest first, at most 500 per call.
-- Runs as the caller, so row-level security decides what it sees (an owner: their own sessions).
create or replace function public.get_session_messages(p_session uuid, p_after bigint default 0,
  p_limit integer default 500) returns jsonb
language sql stable security invoker set search_path = '' as $$
  select coalesce(jsonb_agg(public.sam_message_json(m) order by m.id), '[]'::jsonb)
    from (select * from public.messages
           where session_id = p_session and id > coalesce(p_after, 0)
           order by id limit least(greatest(coalesce(p_limit, 500), 1), 500)) m
$$;

-- The vm-agent's outbox flushes batches of 1..max_message_batch records of one session, each field
-- by its contract name. A re-sent batch, or any re-sent message, is a no-op. Returns {persisted, duplicates}.
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
  if exists (select 1 from jsonb_array_elements(p_batch) e where e ->> 'role' = 'user') then
    raise exception 'a batch records the agent''s side of the chat; only SAM writes the user''s messages'
      using errcode = '22023';
  end if;
  with ins as (
    insert into public.messages (session_id, project_id, owner_id, message_id, role, content, tool_call_id, tool_status,
                                 tool_metadata, origin, produced_at)
    select s.id, s.project_id, s.owner_id, m."messageId", m.role::public.message_role, coalesce(m.content, ''),
           m."toolCallId", m."toolStatus"::public.tool_status, m.metadata, m.origin, m."producedAt"
      from jsonb_to_recordset(p_batch) as m("messageId" text, role text, content text, "toolCallId" text,
                                             "toolStatus" text, metadata jsonb, origin text, "producedAt" timestamptz)
    on conflict (session_id, message_id) do nothing
    returning 1)
  select count(*) into persisted from ins;
  if persisted > 0 and s.workspace_id is not null then perform public.sam_touch_activity(s.workspace_id); end if;
  return jsonb_build_object('persisted', persisted, 'duplicates', n - persisted);
end $$;

revoke execute on function public.sam_message_json(public.messages), public.get_session_messages(uuid, bigint, integer)
  from public, anon;
grant execute on function public.sam_message_json(public.messages), public.get_session_messages(uuid, bigint, integer)
  to authenticated, sam_agent, sam_workspace, service_role;
