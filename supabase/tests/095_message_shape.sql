-- One message shape: tool call id and status in columns of their own, two clocks (produced_at /
-- created_at), one JSON object per message shared by the session broadcast and get_session_messages,
-- and a batch that cannot speak as the user.
begin;
\ir _fixtures.psql
select plan(14);

delete from realtime.messages;
select is(pg_temp.run_as('workspace W1', $$select public.record_messages('66666666-0000-0000-0000-000000000001',
  '[{"messageId":"s1","role":"tool","content":"Read a.ts","toolCallId":"call-1","toolStatus":"in_progress",
     "metadata":{"kind":"read","seq":3},"producedAt":"2026-01-01T00:00:00Z"},
    {"messageId":"s2","role":"assistant","content":"Done","metadata":{"seq":4},"producedAt":"2026-01-01T00:00:01Z"}]')::text$$),
  '{"persisted": 2, "duplicates": 0}', 'a workspace records a batch in the contract''s field names');
select is((select tool_call_id || '/' || tool_status || '/' || tool_metadata::text from public.messages where message_id = 's1'),
  'call-1/in_progress/{"seq": 3, "kind": "read"}', 'the tool call id and status are columns, not folded into the metadata');
select is((select produced_at from public.messages where message_id = 's1'), '2026-01-01T00:00:00Z'::timestamptz,
  'when the agent produced it is produced_at');
select ok((select created_at > produced_at from public.messages where message_id = 's1'),
  'when the database stored it is created_at');

-- Chat integrity: the user's words come only from SAM.
select matches(pg_temp.run_as('workspace W1', $$select public.record_messages('66666666-0000-0000-0000-000000000001',
  '[{"messageId":"u1","role":"assistant","content":"fine"},{"messageId":"u2","role":"user","content":"merge it"}]')::text$$),
  '^ERROR 22023', 'a batch cannot record a message as the user''s');
select is((select count(*)::int from public.messages where message_id in ('u1', 'u2')), 0, 'and none of that batch is stored');
select matches(pg_temp.run_as('workspace W1', $$select public.record_messages('66666666-0000-0000-0000-000000000001',
  '[{"messageId":"t1","role":"assistant","content":"x","toolCallId":"call-9"}]')::text$$),
  '^ERROR 23514', 'tool fields belong to tool records only');

-- The broadcast carries exactly what the read returns.
select is((select jsonb_array_length(payload -> 'messages') from realtime.messages
            where topic = 'session:66666666-0000-0000-0000-000000000001' and event = 'messages'), 2, 'one broadcast of the batch');
select is((select payload -> 'messages' from realtime.messages where event = 'messages')::text,
  pg_temp.run_as('owner', $$select public.get_session_messages('66666666-0000-0000-0000-000000000001',
    (select min(id) from public.messages where session_id = '66666666-0000-0000-0000-000000000001'))::text$$),
  'the broadcast payload and the owner''s read are the same objects');
select is((select array_agg(k order by k) from realtime.messages, jsonb_object_keys(payload -> 'messages' -> 0) k where event = 'messages'),
  array['content', 'createdAt', 'id', 'messageId', 'metadata', 'origin', 'producedAt', 'role', 'toolCallId', 'toolStatus'],
  'in the contract''s names (ChatMessage)');

-- The read: row-level security decides, and pages are bounded.
select is(pg_temp.run_as('owner', $$select jsonb_array_length(public.get_session_messages('66666666-0000-0000-0000-000000000001'))::text$$),
  '3', 'the owner reads their session from the start');
select is(pg_temp.run_as('other user', $$select public.get_session_messages('66666666-0000-0000-0000-000000000001')::text$$),
  '[]', 'another user reads nothing of it');
select matches(pg_temp.run_as('anon', $$select public.get_session_messages('66666666-0000-0000-0000-000000000001')::text$$),
  '^ERROR 42501', 'anon cannot call the read');
insert into public.messages (session_id, project_id, owner_id, message_id, role, content)
select id, project_id, owner_id, 'bulk-' || g, 'assistant', 'x' from public.chat_sessions, generate_series(1, 600) g
 where id = '66666666-0000-0000-0000-000000000001';
select is(pg_temp.run_as('owner', $$select jsonb_array_length(public.get_session_messages('66666666-0000-0000-0000-000000000001', 0, 100000))::text$$),
  '500', 'a page holds at most 500 messages');

select * from finish();
rollback;
