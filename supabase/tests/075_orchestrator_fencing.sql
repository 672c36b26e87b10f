-- Orchestrator job fencing: each claim is a new attempt and only the current attempt ends the job;
-- a stale attempt's completion or failure is refused with a result that says why.
begin;
\ir _fixtures.psql
select plan(27);

select is(has_function_privilege('authenticated', 'public.complete_orchestrator_job(uuid, integer, jsonb)', 'execute'), false,
  'users cannot complete jobs');
select is(has_function_privilege('authenticated', 'public.fail_orchestrator_job(uuid, integer, text, boolean, bigint)', 'execute'), false,
  'nor fail them');
select hasnt_function('public', 'complete_orchestrator_job', array['uuid', 'jsonb'], 'completing without naming the attempt is gone');
select hasnt_function('public', 'fail_orchestrator_job', array['uuid', 'text'], 'and so is failing without it');

update public.orchestrator_jobs set status = 'dead';
insert into public.orchestrator_jobs (id, kind, owner_id) values
  ('aaaaaaaa-0000-0000-0000-000000000001', 'notify', '11111111-0000-0000-0000-000000000001');
select is((select attempts from public.claim_orchestrator_jobs(1)), 1, 'the first claim is attempt 1');

select is(public.complete_orchestrator_job('aaaaaaaa-0000-0000-0000-000000000001', 2, '{"by": "nobody"}'),
  '{"accepted": false, "status": "running", "attempt": 1, "reason": "attempt 2 is not the job''s current attempt (1)"}'::jsonb,
  'an attempt that was never made is refused');
select is(public.complete_orchestrator_job('aaaaaaaa-0000-0000-0000-000000000001', 1, '{"by": "worker 1"}'),
  '{"accepted": true, "status": "succeeded", "attempt": 1}'::jsonb, 'the current attempt completes the job');
select is(public.complete_orchestrator_job('aaaaaaaa-0000-0000-0000-000000000001', 1, '{"by": "again"}'),
  '{"accepted": false, "status": "succeeded", "attempt": 1, "reason": "attempt 1 already ended (the job is succeeded)"}'::jsonb,
  'completing it again is refused');
select is((select payload -> 'result' ->> 'by' from public.orchestrator_jobs where id = 'aaaaaaaa-0000-0000-0000-000000000001'),
  'worker 1', 'the result is the first completion''s');

-- A worker vanishes: its lease runs out, the sweep counts the attempt, a second worker claims it again.
insert into public.orchestrator_jobs (id, kind, owner_id) values
  ('aaaaaaaa-0000-0000-0000-000000000002', 'notify', '11111111-0000-0000-0000-000000000001');
select is((select attempts from public.claim_orchestrator_jobs(1)), 1, 'worker 1 claims attempt 1');
update public.orchestrator_jobs set locked_until = public.sam_now() - interval '1 second'
 where id = 'aaaaaaaa-0000-0000-0000-000000000002';
select is(public.sweep_orchestrator_jobs(), 1, 'the lease sweep counts the vanished attempt');
select is((select status::text || ' ' || attempts || ' ' || last_error from public.orchestrator_jobs
            where id = 'aaaaaaaa-0000-0000-0000-000000000002'), 'pending 1 lease expired', 'as failed: the job waits for its retry');
select is(public.fail_orchestrator_job('aaaaaaaa-0000-0000-0000-000000000002', 1, 'worker 1 woke up') ->> 'accepted', 'false',
  'worker 1 cannot fail the attempt the sweep already ended');
select is((select run_after from public.orchestrator_jobs where id = 'aaaaaaaa-0000-0000-0000-000000000002'),
  public.sam_now() + interval '5 seconds', 'and its backoff is unchanged');
update public.orchestrator_jobs set run_after = public.sam_now() where id = 'aaaaaaaa-0000-0000-0000-000000000002';
select is((select attempts from public.claim_orchestrator_jobs(1)), 2, 'worker 2 claims attempt 2');

select is(public.complete_orchestrator_job('aaaaaaaa-0000-0000-0000-000000000002', 1, '{"by": "worker 1"}'),
  '{"accepted": false, "status": "running", "attempt": 2, "reason": "attempt 1 is not the job''s current attempt (2)"}'::jsonb,
  'worker 1''s late completion is refused');
select is(public.fail_orchestrator_job('aaaaaaaa-0000-0000-0000-000000000002', 1, 'worker 1 failed') ->> 'accepted', 'false',
  'so is its late failure');
select is((select status::text || ' ' || attempts || ' ' || last_error from public.orchestrator_jobs
            where id = 'aaaaaaaa-0000-0000-0000-000000000002'), 'running 2 lease expired', 'the job is still worker 2''s');
select is((select count(*)::int from public.lifecycle_events where entity_id = 'aaaaaaaa-0000-0000-0000-000000000002'), 1,
  'refusals write no event (only the lease expiry did)');
select is(public.fail_orchestrator_job('aaaaaaaa-0000-0000-0000-000000000002', 2, 'worker 2 failed'),
  '{"accepted": true, "status": "pending", "attempt": 2}'::jsonb, 'worker 2 fails its attempt: retried');

select is(public.fail_orchestrator_job('aaaaaaaa-0000-0000-0000-00000000ffff', 1, 'who?'),
  '{"accepted": false, "status": null, "attempt": null, "reason": "no such job"}'::jsonb, 'an unknown job is refused too');
select is(pg_temp.run_as('owner', $$select public.complete_orchestrator_job('aaaaaaaa-0000-0000-0000-000000000002', 2)::text$$),
  'ERROR 42501: permission denied for function complete_orchestrator_job', 'a user is refused by Postgres');

-- Recording a machine is fenced the same way: a stale provision attempt's machine is refused.
update public.orchestrator_jobs set status = 'dead' where status in ('pending', 'running');
select pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'A machine')::text$$) as sub \gset
select (select auto_provisioned_node_id from public.tasks where id = ((:'sub'::jsonb) ->> 'taskId')::uuid) as nid \gset
select (select id from public.orchestrator_jobs where node_id = :'nid' and kind = 'provision_node') as pjob \gset
select is((select attempts from public.claim_orchestrator_jobs(1)), 1, 'worker 1 claims the provision job');
update public.orchestrator_jobs set locked_until = public.sam_now() - interval '1 second' where id = :'pjob';
select public.sweep_orchestrator_jobs();
update public.orchestrator_jobs set run_after = public.sam_now() where id = :'pjob';
select is((select attempts from public.claim_orchestrator_jobs(1)), 2, 'worker 2 claims it again');
select throws_ok(format($$select public.node_provisioned(%L, 'm-stale', null, %L, 1)$$, :'nid', :'pjob'), '55000',
  'machine m-stale not recorded: attempt 1 is not the job''s current attempt (2)', 'worker 1''s machine is refused');
select throws_ok(format($$select public.node_provisioned(%L, 'm-other', null, %L, 1)$$, :'nid',
  '99999999-0000-0000-0000-000000000101'), '55000', 'machine m-other not recorded: the job does not provision this node',
  'so is one named by a job that does not provision this node');
select is(public.node_provisioned(:'nid', 'm-current', null, :'pjob', 2), true, 'worker 2''s machine is recorded');

select * from finish();
rollback;
