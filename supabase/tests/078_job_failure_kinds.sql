-- How a failed attempt ends: retried with backoff, dead at once when permanent, or waiting for the
-- API's own reset; a permanent provision failure fails the node and its task in words.
begin;
\ir _fixtures.psql
select plan(9);

update public.orchestrator_jobs set status = 'dead';
set local sam.now = '2030-01-01T00:00:00Z';

-- A rate limit names its wait: the next attempt is not before it.
insert into public.orchestrator_jobs (id, kind, owner_id) values
  ('aaaaaaaa-0000-0000-0000-000000000011', 'notify', '11111111-0000-0000-0000-000000000001');
select is((select attempts from public.claim_orchestrator_jobs(1)), 1, 'the job is claimed');
select is(public.fail_orchestrator_job('aaaaaaaa-0000-0000-0000-000000000011', 1, 'rate limited', false, 3600000) ->> 'status',
  'pending', 'a rate-limited attempt is retried');
select is((select run_after from public.orchestrator_jobs where id = 'aaaaaaaa-0000-0000-0000-000000000011'),
  '2030-01-01T01:00:00Z'::timestamptz, 'after the wait the API gave, not the 5 s backoff');

-- A wait shorter than the backoff does not hurry the retry; an absurd one is capped at a day.
update public.orchestrator_jobs set run_after = public.sam_now() where id = 'aaaaaaaa-0000-0000-0000-000000000011';
select is((select attempts from public.claim_orchestrator_jobs(1)), 2, 'claimed again');
select public.fail_orchestrator_job('aaaaaaaa-0000-0000-0000-000000000011', 2, 'rate limited', false, 10);
select is((select run_after from public.orchestrator_jobs where id = 'aaaaaaaa-0000-0000-0000-000000000011'),
  '2030-01-01T00:00:10Z'::timestamptz, 'a wait shorter than the backoff waits the backoff (5 s · 2)');
update public.orchestrator_jobs set run_after = public.sam_now() where id = 'aaaaaaaa-0000-0000-0000-000000000011';
select is((select attempts from public.claim_orchestrator_jobs(1)), 3, 'claimed a third time');
select public.fail_orchestrator_job('aaaaaaaa-0000-0000-0000-000000000011', 3, 'rate limited', false, 999999999999);
select is((select run_after from public.orchestrator_jobs where id = 'aaaaaaaa-0000-0000-0000-000000000011'),
  '2030-01-02T00:00:00Z'::timestamptz, 'a wait beyond a day is capped at a day');

-- A permanent failure of a provision job: dead at once, the node and its task fail in words.
update public.orchestrator_jobs set status = 'dead' where status in ('pending', 'running');
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'A machine')::text$$) as sub \gset
select (select auto_provisioned_node_id from public.tasks where id = ((:'sub'::jsonb) ->> 'taskId')::uuid) as nid \gset
select (select id from public.orchestrator_jobs where node_id = :'nid' and kind = 'provision_node') as pjob \gset
select public.claim_orchestrator_jobs(1);
select is(public.fail_orchestrator_job(:'pjob', 1, 'Hetzner refused the API token', true),
  '{"accepted": true, "status": "dead", "attempt": 1}'::jsonb, 'a permanent failure kills the job on its first attempt');
select is((select status::text || ': ' || error_message from public.tasks where id = ((:'sub'::jsonb) ->> 'taskId')::uuid),
  'failed: Could not provision a node: Hetzner refused the API token', 'and the task says why, in words');

select * from finish();
rollback;
