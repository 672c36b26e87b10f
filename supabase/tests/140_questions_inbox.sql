-- Questions and the inbox: a question's chat line carries its card (choices, expiry); the owner
-- answers once (another user, or an empty answer, is refused); an agent in its turn reads the answer
-- with get_pending_messages and an agent between turns gets it as a prompt, once; an expired
-- question says so in the chat and tells its agent. Notifications are broadcast on `user:<id>`,
-- which only that user joins, and only the owner marks them read.
begin;
\ir _fixtures.psql
select plan(28);

-- An agent in its turn asks (T1's other agent session, of the revoked-token tests, is over).
update public.agent_sessions set status = 'stopped' where id = '77777777-0000-0000-0000-000000000004';
update public.agent_sessions set status = 'prompting' where id = '77777777-0000-0000-0000-000000000001';
create temp table q (name text primary key, id uuid);
insert into q values ('first', (pg_temp.run_as('agent A1',
  $$select public.request_human_input('Postgres or SQLite?', 'decision', '["Postgres","SQLite"]')$$))::uuid);
select is((select tool_metadata ->> 'kind' || ' ' || (tool_metadata -> 'options')::text from public.messages
            where message_id = 'question:' || (select id from q where name = 'first')),
  'human_input ["Postgres", "SQLite"]', 'the question is a card in the chat, with its choices');
select is((select (tool_metadata ->> 'expiresAt')::timestamptz from public.messages
            where message_id = 'question:' || (select id from q where name = 'first')),
  (select expires_at from public.human_input_requests where id = (select id from q where name = 'first')),
  'and its expiry');
select is(pg_temp.run_as('other user', format($$select public.answer_human_input(%L, 'SQLite')::text$$, (select id from q where name = 'first'))),
  format('ERROR 42501: not allowed to answer %s', (select id from q where name = 'first')), 'another user may not answer');
select is(pg_temp.run_as('anon', format($$select public.answer_human_input(%L, 'SQLite')::text$$, (select id from q where name = 'first'))),
  'ERROR 42501: permission denied for function answer_human_input', 'anon may not answer');
select is(pg_temp.run_as('owner', format($$select public.answer_human_input(%L, '  ')::text$$, (select id from q where name = 'first'))),
  'ERROR 22023: an answer is 1 to 16000 characters', 'an empty answer is refused');
select is(pg_temp.run_as('owner', format($$select public.answer_human_input(%L, 'Postgres')::text$$, (select id from q where name = 'first'))),
  'true', 'the owner answers');
select is((select role::text || ': ' || content from public.messages where message_id = 'answer:' || (select id from q where name = 'first')),
  'user: Postgres', 'the answer is the user''s line in the chat');
select isnt((select read_at from public.notifications where dedupe_key = 'needs_input:' || (select id from q where name = 'first')),
  null, 'answering reads the question''s notification');
select is((select count(*)::int from public.node_commands where kind = 'prompt' and workspace_id = '55555555-0000-0000-0000-000000000001'),
  0, 'an agent in its turn is not prompted');
select is(pg_temp.run_as('agent A1', $$select string_agg(m ->> 'kind' || '=' || (m ->> 'content'), ',')
    from jsonb_array_elements(public.take_pending_directives()) m where m -> 'metadata' ? 'humanInputRequestId'$$),
  'answer=Postgres', 'it reads the answer with get_pending_messages');
update public.agent_sessions set status = 'idle' where id = '77777777-0000-0000-0000-000000000001';
select is((select count(*)::int from public.node_commands where kind = 'prompt' and workspace_id = '55555555-0000-0000-0000-000000000001'),
  0, 'an answer it read is not prompted when its turn ends');
select is(pg_temp.run_as('owner', format($$select public.answer_human_input(%L, 'SQLite')::text$$, (select id from q where name = 'first'))),
  'false', 'answering again changes nothing');

-- A question answered while the agent is in its turn and not reading: prompted when the turn ends.
update public.agent_sessions set status = 'prompting' where id = '77777777-0000-0000-0000-000000000001';
insert into q values ('second', (pg_temp.run_as('agent A1', $$select public.request_human_input('Which port?')$$))::uuid);
select pg_temp.run_as('owner', format($$select public.answer_human_input(%L, '8080')::text$$, (select id from q where name = 'second')));
update public.agent_sessions set status = 'idle' where id = '77777777-0000-0000-0000-000000000001';
select is((select payload ->> 'content' from public.node_commands where kind = 'prompt' and workspace_id = '55555555-0000-0000-0000-000000000001'),
  'The answer to your question "Which port?": 8080', 'an unread answer is the agent''s next prompt, with its question');
update public.node_commands set status = 'done' where kind = 'prompt' and workspace_id = '55555555-0000-0000-0000-000000000001';
select is(pg_temp.run_as('agent A1', $$select count(*)::text from jsonb_array_elements(public.take_pending_directives()) m
    where m -> 'metadata' ? 'humanInputRequestId'$$), '0', 'once the machine took it, get_pending_messages does not repeat it');

-- A question answered while the agent is between turns: prompted at once.
insert into q values ('third', (pg_temp.run_as('agent A1', $$select public.request_human_input('Name?')$$))::uuid);
select pg_temp.run_as('owner', format($$select public.answer_human_input(%L, 'sam')::text$$, (select id from q where name = 'third')));
select is((select count(*)::int from public.node_commands where kind = 'prompt' and status = 'pending'
            and payload ->> 'content' = 'The answer to your question "Name?": sam'), 1, 'an idle agent is prompted with the answer');

-- A question nobody answers expires.
insert into q values ('late', (pg_temp.run_as('agent A1', $$select public.request_human_input('Tabs or spaces?')$$))::uuid);
update public.human_input_requests set expires_at = now() - interval '1 minute' where id = (select id from q where name = 'late');
select is(public.sweep_human_input() >= 1, true, 'the sweep expires it');
select is((select status::text from public.human_input_requests where id = (select id from q where name = 'late')), 'expired', 'it is expired');
select is((select content from public.messages where message_id = 'question:' || (select id from q where name = 'late') || ':outcome'),
  'Nobody answered in time: the question expired.', 'the chat says so');
select is((select count(*)::int from public.node_commands where kind = 'prompt' and status = 'pending'
            and payload ->> 'content' like 'Nobody answered your question "Tabs or spaces?" in time%'), 1, 'and the agent is told');
select matches(pg_temp.run_as('owner', format($$select public.answer_human_input(%L, 'tabs')::text$$, (select id from q where name = 'late'))),
  '^ERROR 55000: question .* is expired and cannot be answered$', 'an expired question takes no answer');

-- The user topic.
create function pg_temp.can_join(p_identity text, p_topic text) returns text language plpgsql as $$
declare probe uuid := extensions.gen_random_uuid(); r text;
begin
  insert into realtime.messages (id, topic, extension, private) values (probe, p_topic, 'broadcast', true);
  perform set_config('realtime.topic', p_topic, true);
  r := pg_temp.run_as(p_identity, format('select count(*) from realtime.messages where id = %L', probe));
  delete from realtime.messages where id = probe;
  return r;
end $$;
select is(pg_temp.can_join('owner', 'user:11111111-0000-0000-0000-000000000001'), '1', 'a user joins their own topic');
select is(pg_temp.can_join('other user', 'user:11111111-0000-0000-0000-000000000001'), '0', 'another user cannot join it');
select is(pg_temp.can_join('anon', 'user:11111111-0000-0000-0000-000000000001'), '0', 'anon cannot');
select matches(pg_temp.can_join('agent A1', 'user:11111111-0000-0000-0000-000000000001'), '^(0|ERROR 42501)', 'an agent cannot');

-- Broadcasts.
delete from realtime.messages;
select public.sam_notify('11111111-0000-0000-0000-000000000001', '22222222-0000-0000-0000-000000000001',
  '44444444-0000-0000-0000-000000000001', 'task_complete', 'T1', 'Done', 'task_complete:test');
select public.sam_notify('11111111-0000-0000-0000-000000000001', '22222222-0000-0000-0000-000000000001',
  '44444444-0000-0000-0000-000000000001', 'progress', 'T1', 'half way', null);
select is((select string_agg(topic || ' ' || event || ' ' || (payload ->> 'type') || ' ' || (payload ->> 'title'), ',')
             from realtime.messages), 'user:11111111-0000-0000-0000-000000000001 notification task_complete T1',
  'a notification is broadcast on its owner''s topic; progress lines are not');

-- Read and unread: only the owner, only read_at.
select is(pg_temp.run_as('other user', $$with u as (update public.notifications set read_at = now()
    where dedupe_key = 'task_complete:test' returning 1) select count(*)::text from u$$), '0', 'another user cannot mark it read');
select is(pg_temp.run_as('owner', $$with u as (update public.notifications set read_at = now()
    where dedupe_key = 'task_complete:test' returning 1) select count(*)::text from u$$), '1', 'the owner marks it read');
select matches(pg_temp.run_as('owner', $$with u as (update public.notifications set title = 'x'
    where dedupe_key = 'task_complete:test' returning 1) select count(*)::text from u$$), '^ERROR 42501', 'but cannot rewrite it');

select * from finish();
rollback;
