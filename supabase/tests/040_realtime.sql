-- Realtime: only the project's owner joins project:<id> and session:<id> (the join probe of
-- Realtime, reproduced); one broadcast per message batch; one per task status or step change.
begin;
\ir _fixtures.psql
select plan(12);

-- The join probe: a row per topic, read back under the joining identity with realtime.topic set.
create function pg_temp.can_join(p_identity text, p_topic text) returns text language plpgsql as $$
declare probe uuid := extensions.gen_random_uuid(); r text;
begin
  insert into realtime.messages (id, topic, extension, private) values (probe, p_topic, 'broadcast', true);
  perform set_config('realtime.topic', p_topic, true);
  r := pg_temp.run_as(p_identity, format('select count(*) from realtime.messages where id = %L', probe));
  delete from realtime.messages where id = probe;
  return r;
end $$;
select is(pg_temp.can_join('owner', 'project:22222222-0000-0000-0000-000000000001'), '1', 'the owner joins their project topic');
select is(pg_temp.can_join('owner', 'session:66666666-0000-0000-0000-000000000001'), '1', 'and their session topic');
select is(pg_temp.can_join('other user', 'project:22222222-0000-0000-0000-000000000001'), '0', 'another user cannot join it');
select is(pg_temp.can_join('other user', 'session:66666666-0000-0000-0000-000000000001'), '0', 'nor the session topic');
select is(pg_temp.can_join('anon', 'project:22222222-0000-0000-0000-000000000001'), '0', 'anon cannot');
select matches(pg_temp.can_join('workspace W1', 'session:66666666-0000-0000-0000-000000000001'), '^(0|ERROR 42501)', 'a workspace identity cannot');
select is(pg_temp.can_join('owner', 'project:not-a-uuid'), '0', 'a malformed topic is refused');
select set_config('realtime.topic', 'project:22222222-0000-0000-0000-000000000002', true);
select matches(pg_temp.run_as('owner', $$insert into realtime.messages (topic, extension, private) values ('project:22222222-0000-0000-0000-000000000002', 'broadcast', true) returning 1$$),
  '^ERROR 42501', 'a user cannot send on another project''s topic');

-- Broadcasts.
delete from realtime.messages;
select public.record_messages('66666666-0000-0000-0000-000000000001',
  '[{"messageId":"b1","role":"assistant","content":"a"},{"messageId":"b2","role":"thought","content":"b"},{"messageId":"b3","role":"tool","content":"c"}]');
select is((select count(*)::int from realtime.messages where topic = 'session:66666666-0000-0000-0000-000000000001' and event = 'messages'), 1,
  'a batch of three messages is one broadcast');
select is((select (payload ->> 'count') || '/' || jsonb_array_length(payload -> 'messages') from realtime.messages where event = 'messages'), '3/3',
  'carrying the whole batch');
delete from realtime.messages;
update public.tasks set priority = 7 where id = '44444444-0000-0000-0000-000000000001';
select is((select count(*)::int from realtime.messages), 0, 'a change the chat does not show is not broadcast');
select public.fail_task('44444444-0000-0000-0000-000000000001', 'boom');
select is((select string_agg(payload ->> 'status', ',') from realtime.messages where topic = 'project:22222222-0000-0000-0000-000000000001' and event = 'task'),
  'failed', 'a status change is broadcast on the project topic');

select * from finish();
rollback;
