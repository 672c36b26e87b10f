-- The orchestrator's side of Postgres: Vault (the local lookalike), waking the function through
-- pg_net when jobs are enqueued, the per-minute kick, recording a provisioned machine, a dead
-- provision job failing its node and task, and the orphan proof.
begin;
\ir _fixtures.psql
select plan(44);

create function pg_temp.wakes() returns integer language sql as $$
  select count(*)::int from net.http_request_queue where url like '%/orchestrator/run'
$$;
-- A new transaction as far as the one-wake-per-transaction rule goes.
create function pg_temp.next_tx() returns void language sql as $$
  select set_config('sam.orchestrator_woken', '', true)::text is not null
$$;

-- Vault, as hosted has it.
select is(has_function_privilege('anon', 'vault.create_secret(text, text, text, uuid)', 'execute'), false,
  'anon may not create Vault secrets');
select is(has_function_privilege('authenticated', 'vault.create_secret(text, text, text, uuid)', 'execute'), false,
  'nor may users');
select is(has_table_privilege('authenticated', 'vault.decrypted_secrets', 'select'), false, 'users cannot read secrets');
select is(has_function_privilege('service_role', 'vault.update_secret(uuid, text, text, text, uuid)', 'execute'), true,
  'service_role may update secrets');
select is(has_table_privilege('postgres', 'vault.decrypted_secrets', 'select'), true, 'postgres reads decrypted secrets');
select is(has_function_privilege('authenticated', 'public.sam_wake_orchestrator(jsonb)', 'execute'), false,
  'users cannot wake the orchestrator themselves');
select is(has_function_privilege('authenticated', 'public.node_provisioned(uuid, text, text, uuid, integer)', 'execute'), false,
  'nor record machines');

-- No Vault secrets: nothing to call.
select is(public.sam_wake_orchestrator(), null, 'without the Vault secrets a wake is a no-op');
select pg_temp.next_tx();
insert into public.orchestrator_jobs (kind, owner_id) values ('notify', '11111111-0000-0000-0000-000000000001');
select is(pg_temp.wakes(), 0, 'and enqueuing a job sends nothing');

select ok(vault.create_secret('http://127.0.0.1:54321/functions/v1/', 'sam_functions_url', 'where the functions answer') is not null,
  'a Vault secret is created');
select vault.create_secret('s3cret-orchestrator', 'sam_orchestrator_secret') as secret_id \gset
select is((select decrypted_secret from vault.decrypted_secrets where id = :'secret_id'), 's3cret-orchestrator',
  'and read back decrypted');
select throws_ok($$select vault.create_secret('x', 'sam_orchestrator_secret')$$, '23505', null, 'secret names are unique');
select vault.update_secret(:'secret_id', 'orchestrator-secret');
select is((select decrypted_secret || '/' || name from vault.decrypted_secrets where id = :'secret_id'),
  'orchestrator-secret/sam_orchestrator_secret', 'update_secret changes the value and keeps the name');

-- Waking: one POST per transaction that enqueued due jobs.
select pg_temp.next_tx();
select ok(public.sam_wake_orchestrator() is not null, 'with both secrets a wake queues a request');
select is((select url || ' ' || (headers ->> 'Authorization') || ' ' || (headers ->> 'Content-Type') || ' ' || convert_from(body, 'UTF8')
             from net.http_request_queue order by id desc limit 1),
  'http://127.0.0.1:54321/functions/v1/orchestrator/run Bearer orchestrator-secret application/json {}',
  'POST <functions url>/orchestrator/run with the secret as bearer');
delete from net.http_request_queue;
select pg_temp.next_tx();
insert into public.orchestrator_jobs (kind, owner_id) values ('notify', '11111111-0000-0000-0000-000000000001');
select is(pg_temp.wakes(), 1, 'a job enqueued wakes the orchestrator');
insert into public.orchestrator_jobs (kind, owner_id) values ('notify', '11111111-0000-0000-0000-000000000001');
select is(pg_temp.wakes(), 1, 'once per transaction');
select pg_temp.next_tx();
insert into public.orchestrator_jobs (kind, owner_id, dedupe_key) values ('notify', '11111111-0000-0000-0000-000000000001', 'once')
  on conflict (dedupe_key) do nothing;
select is(pg_temp.wakes(), 2, 'a new job in the next transaction wakes it again');
select pg_temp.next_tx();
insert into public.orchestrator_jobs (kind, owner_id, dedupe_key) values ('notify', '11111111-0000-0000-0000-000000000001', 'once')
  on conflict (dedupe_key) do nothing;
select is(pg_temp.wakes(), 2, 'an insert that inserted nothing does not');
insert into public.orchestrator_jobs (kind, owner_id, run_after) values ('notify', '11111111-0000-0000-0000-000000000001', now() + interval '1 hour');
select is(pg_temp.wakes(), 2, 'nor does a job that is not due yet');
delete from net.http_request_queue;
-- A wake that fails never fails the enqueue.
select pg_temp.next_tx();
revoke select on vault.decrypted_secrets from postgres, service_role;
select lives_ok($$insert into public.orchestrator_jobs (kind, owner_id) values ('notify', '11111111-0000-0000-0000-000000000001')$$,
  'a job is enqueued even when waking the orchestrator fails');
grant select on vault.decrypted_secrets to postgres with grant option;
grant select on vault.decrypted_secrets to service_role;
select is(pg_temp.wakes(), 0, 'nothing was sent then (the kick will)');

-- The per-minute kick wakes only for due pending jobs.
update public.orchestrator_jobs set status = 'succeeded' where status = 'pending' and run_after <= now();
select is(public.sam_kick_orchestrator(), null, 'no due job: the kick does nothing');
update public.orchestrator_jobs set run_after = now() - interval '1 second' where run_after > now();
select ok(public.sam_kick_orchestrator() is not null, 'a due job (a retry whose backoff passed): the kick wakes it');
select is((select count(*)::int from cron.job where jobname = 'sam-kick-orchestrator' and schedule = '* * * * *'
             and command = 'select public.sam_kick_orchestrator()'), 1, 'pg_cron kicks every minute');
select is((select count(*)::int from cron.job where jobname = 'sam-sweep-orphan-machines'
             and command like '%sam_wake_orchestrator(%sweepOrphans%'), 1, 'and asks for an orphan sweep every 10 minutes');
delete from net.http_request_queue;

-- A user's submit wakes it through the provision_node job.
select pg_temp.next_tx();
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Needs a machine')::text$$) as sub \gset
select (select auto_provisioned_node_id from public.tasks where id = ((:'sub'::jsonb) ->> 'taskId')::uuid) as nid \gset
select is(pg_temp.wakes(), 1, 'submitting a task that needs a machine wakes the orchestrator');

-- node_provisioned.
select is(pg_temp.run_as('owner', format($$select public.node_provisioned(%L, 'm-1')::text$$, :'nid')),
  'ERROR 42501: permission denied for function node_provisioned', 'a user cannot record a machine');
select throws_ok(format($$select public.node_provisioned(%L, '  ')$$, :'nid'), '22023', null, 'a blank instance id is refused');
select throws_ok($$select public.node_provisioned('33333333-0000-0000-0000-00000000ffff', 'm-1')$$, 'P0002', null,
  'an unknown node is not found');
select is(public.node_provisioned(:'nid', 'm-1', '127.0.0.1'), true, 'the machine is recorded on the provisioning node');
select is((select provider_instance_id || '/' || ip_address || '/' || status from public.nodes where id = :'nid'),
  'm-1/127.0.0.1/provisioning', 'with its address; the node still waits for its agent');
select is(public.node_provisioned(:'nid', 'm-1', '127.0.0.1'), false, 'recording it again changes nothing');
select is((select count(*)::int from public.lifecycle_events where entity_id = :'nid' and reason = 'machine m-1 created'), 1,
  'one event');
select throws_ok(format($$select public.node_provisioned(%L, 'm-2')$$, :'nid'), '55000', null,
  'a second machine for the same node is refused');

select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Another machine')::text$$) as sub2 \gset
select (select auto_provisioned_node_id from public.tasks where id = ((:'sub2'::jsonb) ->> 'taskId')::uuid) as nid2 \gset
select public.destroy_node(:'nid2', 'changed my mind');
select throws_ok(format($$select public.node_provisioned(%L, 'm-3')$$, :'nid2'), '55000', null,
  'a node being destroyed takes no machine (the orchestrator deletes what it made)');

-- Orphan proof.
select is((select array_agg(node_id order by node_id) @> array[:'nid'::uuid, :'nid2'::uuid] from public.provider_nodes_to_keep('local')), true,
  'provisioning and destroying nodes keep their machines');
select is((select count(*)::int from public.provider_nodes_to_keep('hetzner')), 0, 'per provider');

-- A provision job that gives up fails its node and the task waiting for it, with the reason.
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'Doomed machine')::text$$) as sub3 \gset
select (select auto_provisioned_node_id from public.tasks where id = ((:'sub3'::jsonb) ->> 'taskId')::uuid) as nid3 \gset
select (select id from public.orchestrator_jobs where node_id = :'nid3' and kind = 'provision_node') as job3 \gset
update public.orchestrator_jobs set attempts = max_attempts - 1 where id = :'job3';
select is((select count(*)::int from public.claim_orchestrator_jobs(100, array['provision_node']) where id = :'job3'), 1,
  'the last attempt is claimed');
select is(public.fail_orchestrator_job(:'job3', 5, 'cloud says no') ->> 'status', 'dead', 'and fails: the job is dead');
select is((select status::text || ': ' || error_message from public.nodes where id = :'nid3'),
  'failed: gave up creating the machine after 5 attempts: cloud says no', 'the node failed with the reason');
select is((select status::text || ': ' || error_message from public.tasks where id = ((:'sub3'::jsonb) ->> 'taskId')::uuid),
  'failed: Could not provision a node: gave up creating the machine after 5 attempts: cloud says no',
  'and so did its task');
select is((select count(*)::int from public.messages m join public.tasks t on t.chat_session_id = m.session_id
            where t.id = ((:'sub3'::jsonb) ->> 'taskId')::uuid and m.message_id = 'task-failed'
              and m.content like '%Could not provision a node%'), 1, 'the chat says why');
select is((select count(*)::int from public.provider_nodes_to_keep('local') where node_id = :'nid3'), 0,
  'a failed node''s machine is an orphan');

select * from finish();
rollback;
