-- At least once command delivery (lease, redelivery, acknowledgement, giving up), workspace tokens
-- slid by the node's heartbeat, node token renewal after expiry, the agent token's hard cap.
begin;
\ir _fixtures.psql
select plan(27);

-- Delivery: handed out, not again within the lease, again (same ids) after it.
select is(pg_temp.run_as('node N1', $$select count(*) from public.poll_node_commands()$$), '2', 'N1 gets its two commands');
select is(pg_temp.run_as('node N1', $$select count(*) from public.poll_node_commands()$$), '0', 'not again within the lease');
update public.node_commands set delivered_at = now() - interval '61 seconds' where node_id = '33333333-0000-0000-0000-000000000001';
select is(pg_temp.run_as('node N1', $$select string_agg(id::text, ',' order by id) from public.poll_node_commands()$$),
  '99999999-0000-0000-0000-000000000001,99999999-0000-0000-0000-000000000003',
  'unacknowledged after the lease: handed out again, same ids');
select is((select string_agg(deliveries::text, ',') from public.node_commands where node_id = '33333333-0000-0000-0000-000000000001'),
  '2,2', 'each counted as delivered twice');
select is(pg_temp.run_as('node N1', $$select public.ack_node_command('99999999-0000-0000-0000-000000000001', true)::text$$), 'true',
  'an acknowledgement names its command');
select is(pg_temp.run_as('node N1', $$select public.ack_node_command('99999999-0000-0000-0000-000000000001', true)::text$$), 'false',
  'a repeated acknowledgement changes nothing');
select is(pg_temp.run_as('node N2', $$select public.ack_node_command('99999999-0000-0000-0000-000000000003', true)::text$$), 'false',
  'another node cannot acknowledge it');
update public.node_commands set delivered_at = now() - interval '61 seconds' where node_id = '33333333-0000-0000-0000-000000000001';
select is(pg_temp.run_as('node N1', $$select string_agg(id::text, ',') from public.poll_node_commands()$$),
  '99999999-0000-0000-0000-000000000003', 'an acknowledged command is never handed out again');
update public.node_commands set delivered_at = now() - interval '61 seconds', deliveries = 10
 where id = '99999999-0000-0000-0000-000000000003';
select is(pg_temp.run_as('node N1', $$select count(*) from public.poll_node_commands()$$), '0',
  'one handed out node_command_max_deliveries times is not handed out again');
select is((select status::text || ': ' || (result ->> 'error') from public.node_commands where id = '99999999-0000-0000-0000-000000000003'),
  'failed: not acknowledged after 10 deliveries', 'it is failed, saying why');

-- Workspace tokens, slid by the heartbeat of the node that runs them.
update public.tokens set expires_at = now() - interval '1 minute' where jti = '88888888-0000-0000-0000-000000000011';
select is(pg_temp.run_as('node N1', $$select public.node_refresh_workspace_tokens(array[
    '55555555-0000-0000-0000-000000000001', '55555555-0000-0000-0000-000000000002']::uuid[])::text$$)::jsonb #>> '{tokens,0,jti}',
  '88888888-0000-0000-0000-000000000011', 'a live workspace''s token is slid, even after its row expired');
select ok((select expires_at > now() + interval '23 hours' from public.tokens where jti = '88888888-0000-0000-0000-000000000011'),
  'to a full workspace token lifetime');
select is(pg_temp.run_as('node N1', $$select public.node_refresh_workspace_tokens(array[
    '55555555-0000-0000-0000-000000000002']::uuid[]) ->> 'ended'$$),
  '["55555555-0000-0000-0000-000000000002"]', 'another node''s workspace is named ended, its token untouched');
update public.tokens set revoked_at = now() where workspace_id = '55555555-0000-0000-0000-000000000003';
select is(pg_temp.run_as('node N1', $$select public.node_refresh_workspace_tokens(array[
    '55555555-0000-0000-0000-000000000003']::uuid[])::text$$), '{"ended": [], "tokens": []}',
  'a revoked workspace token stays revoked');
select alike(pg_temp.run_as('workspace W1', $$select public.node_refresh_workspace_tokens(array[]::uuid[])::text$$), 'ERROR 42501%',
  'only a node refreshes workspace tokens');

-- Node token renewal after expiry.
update public.tokens set expires_at = now() - interval '2 hours' where jti = '88888888-0000-0000-0000-000000000001';
select is(pg_temp.run_as('node N1', $$select public.current_node_id()::text$$), null, 'an expired node token no longer counts');
select is(pg_temp.run_as('node N1', $$select public.renew_node_token() ->> 'jti'$$), '88888888-0000-0000-0000-000000000001',
  'within the grace window it is renewed, same jti');
select is(pg_temp.run_as('node N1', $$select public.current_node_id()::text$$), '33333333-0000-0000-0000-000000000001', 'and counts again');
update public.tokens set expires_at = now() - interval '8 days' where jti = '88888888-0000-0000-0000-000000000001';
select is(pg_temp.run_as('node N1', $$select public.renew_node_token() ->> 'refused'$$), 'expired', 'beyond the grace window it is not');
update public.tokens set expires_at = now() - interval '1 minute', revoked_at = now() where jti = '88888888-0000-0000-0000-000000000002';
select is(pg_temp.run_as('node N2', $$select public.renew_node_token() ->> 'refused'$$), 'revoked', 'a revoked one never is');
update public.tokens set expires_at = now() - interval '1 minute' where jti = '88888888-0000-0000-0000-000000000001';
update public.nodes set status = 'destroying' where id = '33333333-0000-0000-0000-000000000001';
select is(pg_temp.run_as('node N1', $$select public.renew_node_token() ->> 'refused'$$), 'node_gone', 'nor one of a node being destroyed');
select alike(pg_temp.run_as('agent A1', $$select public.renew_node_token()::text$$), 'ERROR 42501%', 'only a node token is renewed');

-- The agent token's hard cap, for the calling workspace's sessions only.
update public.tokens set max_expires_at = '2999-01-01T00:00:00Z' where jti = '88888888-0000-0000-0000-000000000021';
select is(pg_temp.run_as('workspace W1', $$select public.agent_session_token_cap('77777777-0000-0000-0000-000000000001')::text$$),
  extract(epoch from '2999-01-01T00:00:00Z'::timestamptz)::bigint::text, 'a workspace reads its agent token''s hard cap');
select is(pg_temp.run_as('other-project workspace W3', $$select public.agent_session_token_cap('77777777-0000-0000-0000-000000000001')::text$$),
  null, 'not another workspace''s');

-- Only the identities they are for may call them.
select ok(not has_function_privilege('authenticated', 'public.renew_node_token()', 'execute')
          and not has_function_privilege('anon', 'public.renew_node_token()', 'execute'), 'users cannot renew node tokens');
select ok(not has_function_privilege('authenticated', 'public.node_refresh_workspace_tokens(uuid[])', 'execute')
          and not has_function_privilege('sam_workspace', 'public.node_refresh_workspace_tokens(uuid[])', 'execute'),
  'nor refresh workspace tokens');
select ok(not has_function_privilege('authenticated', 'public.agent_session_token_cap(uuid)', 'execute')
          and has_function_privilege('sam_workspace', 'public.agent_session_token_cap(uuid)', 'execute'),
  'the hard cap is the workspace''s to read');

select * from finish();
rollback;
