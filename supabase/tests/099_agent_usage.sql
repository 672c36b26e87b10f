-- Token usage per agent session: only the session's own workspace reports it, totals never go
-- down, and only the owner reads it.
begin;
\ir _fixtures.psql
select plan(9);

delete from public.agent_session_usage where agent_session_id = '77777777-0000-0000-0000-000000000001';
select is(pg_temp.run_as('workspace W1', $$select public.record_agent_usage('77777777-0000-0000-0000-000000000001',
  '{"inputTokens":480,"outputTokens":120,"cachedReadTokens":40,"totalTokens":600,"contextUsed":900,"contextSize":200000,"turns":1,"source":"codex-rollout","cost":{"amount":0.0123,"currency":"usd"}}')::text$$),
  'true', 'the workspace reports its session''s usage');
select is((select row(input_tokens, output_tokens, cached_read_tokens, total_tokens, context_used, context_size, cost_amount, cost_currency, turns, source, agent_type)::text
             from public.agent_session_usage where agent_session_id = '77777777-0000-0000-0000-000000000001'),
  '(480,120,40,600,900,200000,0.012300,USD,1,codex-rollout,opencode)', 'stored with the session''s agent type');
select is(pg_temp.run_as('workspace W1', $$select public.record_agent_usage('77777777-0000-0000-0000-000000000001',
  '{"inputTokens":100,"outputTokens":10,"turns":1}')::text$$),
  'false', 'an older report (a replay) changes nothing');
select is(pg_temp.run_as('workspace W1', $$select public.record_agent_usage('77777777-0000-0000-0000-000000000001',
  '{"inputTokens":960,"outputTokens":240,"turns":2,"contextUsed":1500}')::text$$),
  'true', 'a later one raises the totals');
select is((select row(input_tokens, output_tokens, context_used, turns)::text from public.agent_session_usage
            where agent_session_id = '77777777-0000-0000-0000-000000000001'), '(960,240,1500,2)', 'to the reported totals');
select is(pg_temp.run_as('same-node workspace W2', $$select public.record_agent_usage('77777777-0000-0000-0000-000000000001', '{"inputTokens":99999}')::text$$),
  'ERROR 42501: not allowed to report usage of agent session 77777777-0000-0000-0000-000000000001',
  'another workspace, even on the same node, cannot report it');
select is(pg_temp.run_as('workspace W1', $$select public.record_agent_usage('77777777-0000-0000-0000-000000000001', '{"inputTokens":-1}')::text$$),
  'ERROR 22023: usage inputTokens is a whole number ≥ 0', 'a negative count is refused in words');
select is(pg_temp.run_as('owner', $$select count(*)::text from public.agent_session_usage where agent_session_id = '77777777-0000-0000-0000-000000000001'$$),
  '1', 'the owner reads it');
select is(pg_temp.run_as('owner', $$select public.record_agent_usage('77777777-0000-0000-0000-000000000001', '{"inputTokens":1}')::text$$),
  'ERROR 42501: permission denied for function record_agent_usage', 'but cannot write it');

select * from finish();
rollback;
