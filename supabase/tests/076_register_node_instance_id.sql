-- A machine's provider instance id comes only from node_provisioned (the provider's answer to the
-- orchestrator); what a registering agent says about its instance is ignored.
begin;
\ir _fixtures.psql
select plan(8);

select is(has_function_privilege('authenticated', 'public.register_node(text, jsonb)', 'execute'), false,
  'users cannot register nodes themselves');

-- The machine is recorded first, then its agent registers claiming another.
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'A machine')::text$$) as s1 \gset
select (select auto_provisioned_node_id from public.tasks where id = ((:'s1'::jsonb) ->> 'taskId')::uuid) as nid \gset
select is(public.node_provisioned(:'nid', 'm-own', '203.0.113.7'), true, 'the orchestrator records the provider''s machine');
select public.issue_bootstrap_token(:'nid') as tok \gset
select is(public.register_node(:'tok', '{"agentVersion": "1.0.0", "providerInstanceId": "m-victim"}') ->> 'nodeId', :'nid',
  'an agent that names another instance still registers (the key is accepted and ignored)');
select is((select provider_instance_id || ' ' || ip_address || ' ' || status from public.nodes where id = :'nid'),
  'm-own 203.0.113.7 active', 'the node keeps the provider''s instance id and address');

-- The agent registers before the orchestrator recorded its machine.
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Fast agent')::text$$) as s2 \gset
select (select auto_provisioned_node_id from public.tasks where id = ((:'s2'::jsonb) ->> 'taskId')::uuid) as nid2 \gset
select public.issue_bootstrap_token(:'nid2') as tok2 \gset
select public.register_node(:'tok2', '{"agentVersion": "1.0.0", "providerInstanceId": "m-victim", "ipAddress": "10.0.0.5"}');
select is((select coalesce(provider_instance_id, 'none') || ' ' || ip_address from public.nodes where id = :'nid2'),
  'none 10.0.0.5', 'what the agent says about its instance is not recorded (its address is)');
select is(public.node_provisioned(:'nid2', 'm-fast', '203.0.113.8'), true, 'the provider''s answer is recorded after it');
select is(public.destroy_node(:'nid2', 'done'), true, 'the node is destroyed');
select is((select payload ->> 'providerInstanceId' from public.orchestrator_jobs where node_id = :'nid2' and kind = 'destroy_node'),
  'm-fast', 'and its destroy job names the provider''s machine, not the one the agent claimed');

select * from finish();
rollback;
