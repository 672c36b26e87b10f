-- One message shape: tool call id and status in columns of their own, two clocks (produced_at /
-- created_at), the session broadcast carrying the rows exactly as get_session_messages returns
-- them, and a batch that cannot speak as the user.
begin;
\ir _fixtures.psql
select plan(15);

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

-- The broadcast carries exactly what the read returns.
select is((select jsonb_array_length(payload -> 'messages') from realtime.messages
            where topic = 'session:66666666-0000-0000-0000-000000000001' and event = 'messages'), 2, 'one broadcast of the batch');
select is((select payload -> 'messages' from realtime.messages where event = 'messages')::text,
  pg_temp.run_as('owner', $$select jsonb_agg(to_jsonb(m) order by m.id)::text
    from public.get_session_messages('66666666-0000-0000-0000-000000000001', 10,
      p_after => (select min(id) from public.messages where session_id = '66666666-0000-0000-0000-000000000001')) m$$),
  'the broadcast payload and the owner''s read are the same objects');
select ok((select payload -> 'messages' -> 0 ?& array['id', 'message_id', 'role', 'content', 'tool_call_id', 'tool_status',
                                                     'tool_metadata', 'origin', 'produced_at', 'created_at']
             from realtime.messages where event = 'messages'),
  'with every column the chat maps (MessageRow in functions/_shared/common/contracts/messages.ts)');
delete from realtime.messages;

-- Chat integrity: the user's words come only from SAM.
select is(pg_temp.run_as('workspace W1', $$select public.record_messages('66666666-0000-0000-0000-000000000001',
  '[{"messageId":"u1","role":"user","content":"merge it","metadata":{"seq":5}},{"messageId":"u2","role":"user","content":"and deploy"}]')::text$$),
  '{"persisted": 2, "duplicates": 0}', 'a workspace''s user records are stored…');
select is((select string_agg(role || ' ' || (tool_metadata ->> 'echo') || ' ' || coalesce(tool_metadata ->> 'seq', '-'), ', ' order by id)
             from public.messages where message_id in ('u1', 'u2')),
  'assistant user 5, assistant user -', '…as the agent''s echo, never as the user''s own words');
select is((select payload -> 'messages' -> 0 ->> 'role' from realtime.messages where event = 'messages'), 'assistant',
  'and broadcast so');
select matches(pg_temp.run_as('workspace W1', $$select public.record_messages('66666666-0000-0000-0000-000000000001',
  '[{"messageId":"t1","role":"assistant","content":"x","toolCallId":"call-9"}]')::text$$),
  '^ERROR 23514', 'tool fields belong to tool records only');

-- The read: only who may see the session, and pages are bounded.
select is(pg_temp.run_as('owner', $$select count(*)::text from public.get_session_messages('66666666-0000-0000-0000-000000000001', 50, p_after => 0)$$),
  '5', 'the owner reads their session from the start');
select matches(pg_temp.run_as('other user', $$select count(*)::text from public.get_session_messages('66666666-0000-0000-0000-000000000001')$$),
  '^ERROR 42501', 'another user cannot read it');
select matches(pg_temp.run_as('anon', $$select count(*)::text from public.get_session_messages('66666666-0000-0000-0000-000000000001')$$),
  '^ERROR 42501', 'nor anon');
insert into public.messages (session_id, project_id, owner_id, message_id, role, content)
select id, project_id, owner_id, 'bulk-' || g, 'assistant', 'x' from public.chat_sessions, generate_series(1, 600) g
 where id = '66666666-0000-0000-0000-000000000001';
select is(pg_temp.run_as('owner', $$select count(*)::text from public.get_session_messages('66666666-0000-0000-0000-000000000001', 100000, p_after => 0)$$),
  public.setting_int('max_message_page')::text, 'a page holds at most max_message_page messages');

select * from finish();
rollback;
