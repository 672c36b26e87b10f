-- A change of an agent session's usage is broadcast as `usage` on its chat's topic
-- (20261203050000_usage_broadcast.sql): a first report, a later one that raises the totals; a
-- report that changes nothing sends nothing; no other chat hears it; only the owner may receive it.
begin;
\ir _fixtures.psql
select plan(7);

create temp view usage_events as select topic, payload from realtime.messages where event = 'usage';
delete from public.agent_session_usage where agent_session_id = '77777777-0000-0000-0000-000000000001';

delete from realtime.messages;
select is(pg_temp.run_as('workspace W1', $$select public.record_agent_usage('77777777-0000-0000-0000-000000000001',
  '{"inputTokens":480,"outputTokens":120,"turns":1}')::text$$), 'true', 'the workspace reports its session''s first usage');
select is((select string_agg(topic || ' ' || (payload - 'id')::text, '; ') from usage_events),
  'session:66666666-0000-0000-0000-000000000001 {"taskId": "44444444-0000-0000-0000-000000000001", "agentSessionId": "77777777-0000-0000-0000-000000000001"}',
  'one usage event on the chat''s topic, naming the task and the agent session');

delete from realtime.messages;
select pg_temp.run_as('workspace W1', $$select public.record_agent_usage('77777777-0000-0000-0000-000000000001',
  '{"inputTokens":960,"outputTokens":240,"turns":2}')::text$$) as ignored \gset
select is((select count(*)::int from usage_events), 1, 'a later report that raises the totals is one more event');

delete from realtime.messages;
select is(pg_temp.run_as('workspace W1', $$select public.record_agent_usage('77777777-0000-0000-0000-000000000001',
  '{"inputTokens":960,"outputTokens":240,"turns":2}')::text$$), 'false', 'the same totals again change nothing');
select is((select count(*)::int from usage_events), 0, 'and send nothing');

-- Who may receive it: the topic's policy (the owner of the chat's project), not the event.
select pg_temp.run_as('workspace W1', $$select public.record_agent_usage('77777777-0000-0000-0000-000000000001',
  '{"inputTokens":1000,"turns":3}')::text$$) as ignored \gset
select is(pg_temp.run_as('owner', $$select public.sam_can_use_topic('session:66666666-0000-0000-0000-000000000001')::text$$), 'true',
  'the owner may receive the chat''s events');
select is(pg_temp.run_as('other user', $$select public.sam_can_use_topic('session:66666666-0000-0000-0000-000000000001')::text$$), 'false',
  'another user may not');

select * from finish();
rollback;
