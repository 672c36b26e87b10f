-- Settings are typed and validated on write (known keys, value types, ranges, which ones a project
-- may override), and no sweep is stopped by one bad row: an unreadable override falls back to the
-- platform value, and each sweep handles its rows one by one.
begin;
\ir _fixtures.psql
select plan(29);
create function pg_temp.at(p_offset interval) returns void language sql as $$
  select set_config('sam.now', (date_trunc('minute', now()) + interval '1 minute' + p_offset)::text, true)::text is not null
$$;

-- Writes through REST (the owner, as `authenticated`) are checked.
select is(pg_temp.run_as('owner', $$insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'queued_timeout', '"never"') returning key$$),
  'ERROR 22023: setting queued_timeout takes an interval such as "15 minutes", not "never"', 'an interval setting refuses "never"');
select is(pg_temp.run_as('owner', $$insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'no_such_setting', '1') returning key$$),
  'ERROR 22023: unknown setting no_such_setting', 'an unknown key is refused, naming it');
select is(pg_temp.run_as('owner', $$insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'max_active_children', '"five"') returning key$$),
  'ERROR 22023: setting max_active_children takes a whole number, not "five"', 'a number setting refuses a string');
select is(pg_temp.run_as('owner', $$insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'max_active_children', '2.5') returning key$$),
  'ERROR 22023: setting max_active_children takes a whole number, not 2.5', 'and a fraction');
select is(pg_temp.run_as('owner', $$insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'provisioning_timeout', '"-5 minutes"') returning key$$),
  'ERROR 22023: setting provisioning_timeout is at least "1 second", not "-5 minutes"', 'a negative timeout is refused');
select is(pg_temp.run_as('owner', $$insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'provisioning_timeout', '"90 years"') returning key$$),
  'ERROR 22023: setting provisioning_timeout is at most "1 day", not "90 years"', 'so is an absurdly long one');
select is(pg_temp.run_as('owner', $$insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'max_active_children', '50') returning key$$),
  'ERROR 22023: setting max_active_children may only be lowered for a project (platform value 5), not 50',
  'a limit can be tightened per project, never loosened');
select is(pg_temp.run_as('owner', $$insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'sweep_batch', '1') returning key$$),
  'ERROR 22023: setting sweep_batch is platform-wide and cannot be set per project', 'a platform-wide setting is not overridden per project');
select is(pg_temp.run_as('owner', $$update public.project_settings set value = '"soon"' where key = 'warm_timeout' returning key$$),
  'ERROR 22023: setting warm_timeout takes an interval such as "15 minutes", not "soon"', 'an update is checked like an insert');
select is(pg_temp.run_as('owner', $$insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'max_active_children', '2') returning key$$),
  'max_active_children', 'a valid override is accepted');
select is(pg_temp.run_as('owner', $$update public.project_settings set value = '"10 minutes"' where key = 'warm_timeout' returning value::text$$),
  '"10 minutes"', 'and a valid update');
select is(pg_temp.run_as('other user', $$insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'max_active_children', '1') returning key$$),
  'ERROR 42501: new row violates row-level security policy for table "project_settings"', 'another user is still refused by RLS first');
select throws_ok($$update public.settings set value = '"never"' where key = 'queued_timeout'$$, '22023',
  'setting queued_timeout takes an interval such as "15 minutes", not "never"', 'the platform values are checked too');
select throws_ok($$update public.settings set value = '0' where key = 'sweep_batch'$$, '22023',
  'setting sweep_batch is at least 1, not 0', 'within their range');
select is((select count(*)::int from public.settings where min_value is null and kind <> 'text'), 0, 'every number and interval setting has a range');

-- Bad rows planted by a superuser who bypasses the checks (triggers and foreign keys off).
set local session_replication_role = replica;
insert into public.project_settings values
  ('22222222-0000-0000-0000-000000000002', 'queued_timeout', '"never"'),
  ('22222222-0000-0000-0000-000000000002', 'provisioning_timeout', '{"minutes": 5}'),
  ('22222222-0000-0000-0000-000000000002', 'job_backoff_base', '"whenever"'),
  ('22222222-0000-0000-0000-000000000002', 'warm_timeout', '"-3 hours"'),
  ('22222222-0000-0000-0000-000000000002', 'max_message_batch', '"many"');
set local session_replication_role = origin;

select is(public.setting_interval('queued_timeout', '22222222-0000-0000-0000-000000000002'), interval '20 minutes',
  'an unreadable override reads as the platform value');
select is(public.setting_interval('warm_timeout', '22222222-0000-0000-0000-000000000002'), interval '30 minutes',
  'so does an out-of-range one');
select is(public.setting_int('max_message_batch', '22222222-0000-0000-0000-000000000002'), 100, 'and a mistyped number');
select is(public.setting_interval('warm_timeout', '22222222-0000-0000-0000-000000000001'), interval '10 minutes',
  'a valid override still counts');

-- sweep_step_timeouts handles every project's rows, the poisoned project's with the platform value.
select pg_temp.at('0');
update public.tasks set status = 'queued', execution_step = 'node_selection', step_changed_at = public.sam_now(), status_changed_at = public.sam_now()
 where id in ('44444444-0000-0000-0000-000000000001', '44444444-0000-0000-0000-000000000002');
update public.tasks set status = 'queued', execution_step = 'node_provisioning', step_changed_at = public.sam_now(), status_changed_at = public.sam_now()
 where id = '44444444-0000-0000-0000-000000000003';
select pg_temp.at('20 minutes');
select lives_ok($$select public.sweep_step_timeouts()$$, 'sweep_step_timeouts runs beside a poisoned override');
select is((select string_agg(status::text, ',' order by title) from public.tasks
            where id in ('44444444-0000-0000-0000-000000000001', '44444444-0000-0000-0000-000000000003', '44444444-0000-0000-0000-000000000002')),
  'failed,failed,failed', 'and times out the queued and provisioning tasks of both projects');

-- sweep_orchestrator_jobs: the poisoned project's job is retried with the platform backoff.
update public.orchestrator_jobs set status = 'running', attempts = 1, locked_until = public.sam_now() - interval '1 second'
 where kind = 'open_pr' and task_id in ('44444444-0000-0000-0000-000000000001', '44444444-0000-0000-0000-000000000002');
select is(public.sweep_orchestrator_jobs(), 2, 'sweep_orchestrator_jobs takes both expired leases');
select is((select string_agg(status || '@' || (run_after - public.sam_now()), ',' order by project_id) from public.orchestrator_jobs
            where kind = 'open_pr' and task_id in ('44444444-0000-0000-0000-000000000001', '44444444-0000-0000-0000-000000000002')),
  'pending@00:00:05,pending@00:00:05', 'both back to pending after the platform backoff');

-- A node of the poisoned project goes warm for the platform warm timeout.
select is(public.sam_node_go_warm('33333333-0000-0000-0000-000000000002', 'idle'), true, 'a node of the poisoned project goes warm');
select is((select warm_until - public.sam_now() from public.nodes where id = '33333333-0000-0000-0000-000000000002'), interval '30 minutes',
  'for the platform warm timeout');

-- One row whose transition raises does not stop a sweep: the other rows are still handled.
create function public.test_jam() returns trigger language plpgsql as $$
begin raise exception 'jammed row %', new.id; end $$;
create trigger test_jam before update on public.tasks for each row when (old.id = '44444444-0000-0000-0000-0000000000e1')
  execute function public.test_jam();
select pg_temp.at('1 hour');
insert into public.tasks (id, project_id, owner_id, title, status, execution_step, step_changed_at, status_changed_at) values
  ('44444444-0000-0000-0000-0000000000e1', '22222222-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000001', 'jammed', 'queued', 'node_selection', public.sam_now(), public.sam_now()),
  ('44444444-0000-0000-0000-0000000000e2', '22222222-0000-0000-0000-000000000002', '11111111-0000-0000-0000-000000000002', 'fine', 'queued', 'node_selection', public.sam_now(), public.sam_now());
select pg_temp.at('1 hour 21 minutes');
select is(public.sweep_step_timeouts(), 1, 'a sweep meeting a row that raises still handles the others');
select is((select string_agg(status::text, ',' order by title) from public.tasks where id in ('44444444-0000-0000-0000-0000000000e1', '44444444-0000-0000-0000-0000000000e2')),
  'failed,queued', 'the good row timed out, the jammed one is left for the next run');

create trigger test_jam before update on public.nodes for each row when (old.id = '33333333-0000-0000-0000-0000000000e1')
  execute function public.test_jam();
insert into public.nodes (id, owner_id, status, last_heartbeat_at, warm_since, warm_until) values
  ('33333333-0000-0000-0000-0000000000e1', '11111111-0000-0000-0000-000000000001', 'warm', public.sam_now(), public.sam_now(), public.sam_now() - interval '1 second'),
  ('33333333-0000-0000-0000-0000000000e2', '11111111-0000-0000-0000-000000000002', 'warm', public.sam_now(), public.sam_now(), public.sam_now() - interval '1 second');
select is(public.sweep_warm_nodes(), 2, 'sweep_warm_nodes skips a row that raises (and takes the two other expired warm nodes)');
select is((select string_agg(status::text, ',' order by id) from public.nodes where id in ('33333333-0000-0000-0000-0000000000e1', '33333333-0000-0000-0000-0000000000e2')),
  'warm,destroying', 'the jammed node is left for the next run, the other one is destroyed');

select * from finish();
rollback;
