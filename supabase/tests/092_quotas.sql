-- Per-user quotas (active tasks, submissions per minute) and the bounded message page.
begin;
\ir _fixtures.psql
select plan(19);

select is((select string_agg(key || '=' || value::text, ',' order by key) from public.settings
            where key in ('max_active_tasks_per_user', 'max_submissions_per_minute_per_user', 'max_message_page')),
  'max_active_tasks_per_user=100,max_message_page=200,max_submissions_per_minute_per_user=60', 'the quotas are settings');
select is(pg_temp.run_as('owner', $$insert into public.project_settings values ('22222222-0000-0000-0000-000000000001', 'max_active_tasks_per_user', '1000') returning key$$),
  'ERROR 22023: setting max_active_tasks_per_user is platform-wide and cannot be set per project', 'a user cannot lift a quota through a project override');

-- Active tasks: U2 runs T2 already; with a limit of 3 two more fit.
update public.settings set value = '3' where key = 'max_active_tasks_per_user';
select is(pg_temp.run_as('other user', $$select public.submit_task('22222222-0000-0000-0000-000000000002', 'second') ->> 'status'$$), 'queued', 'a second active task');
select is(pg_temp.run_as('other user', $$select public.submit_task('22222222-0000-0000-0000-000000000002', 'third') ->> 'status'$$), 'queued', 'a third');
select is(pg_temp.run_as('other user', $$select public.submit_task('22222222-0000-0000-0000-000000000002', 'fourth') ->> 'status'$$),
  'ERROR 54000: you already have 3 active tasks (limit max_active_tasks_per_user = 3)', 'the fourth is refused, naming the setting');
select is((select count(*)::int from public.tasks where owner_id = '11111111-0000-0000-0000-000000000002' and title = 'fourth'), 0, 'and nothing of it is left');
select throws_ok($$select public.submit_task('22222222-0000-0000-0000-000000000002', 'fifth', '{"x": 1}')$$, '54000', null,
  'a submission by the system on the user''s behalf counts too');
select is(public.cancel_task((select id from public.tasks where title = 'third' and owner_id = '11111111-0000-0000-0000-000000000002'), 'make room'), true,
  'an ended task frees its place');
select is(pg_temp.run_as('other user', $$select public.submit_task('22222222-0000-0000-0000-000000000002', 'fourth again') ->> 'status'$$), 'queued', 'so the next one fits');

-- Running an idea counts like a submission.
select pg_temp.run_as('other user', $$select public.create_idea('an idea', '', 0, '22222222-0000-0000-0000-000000000002')::text$$) as idea \gset
select is(pg_temp.run_as('other user', format($$select public.ready_task(%L)::text$$, :'idea')), 'true', 'an idea is ready');
select matches(pg_temp.run_as('other user', format($$select public.run_task(%L)::text$$, :'idea')),
  '^ERROR 54000: you already have 3 active tasks \(limit max_active_tasks_per_user', 'running it is refused at the limit');

-- Dispatch by an agent counts against its owner's active tasks.
select is(pg_temp.run_as('agent A1', $$select public.dispatch_task('child of T1') ->> 'status'$$), 'queued', 'U1 (two active tasks) is under the limit: dispatch works');
select is(pg_temp.run_as('agent A1', $$select public.dispatch_task('another child')$$),
  'ERROR 54000: you already have 3 active tasks (limit max_active_tasks_per_user = 3)', 'at the limit an agent''s dispatch is refused');
update public.settings set value = '100' where key = 'max_active_tasks_per_user';

-- Submissions per minute.
update public.settings set value = '2' where key = 'max_submissions_per_minute_per_user';
select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'one') ->> 'status'$$), 'queued', 'one');
select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'two') ->> 'status'$$), 'queued', 'two');
select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'three') ->> 'status'$$),
  'ERROR 54000: you submitted 2 tasks within a minute (limit max_submissions_per_minute_per_user = 2)', 'the third within a minute is refused');
select set_config('sam.now', (now() + interval '1 minute')::text, true) is not null as later \gset
select is(pg_temp.run_as('owner', $$select public.submit_task('22222222-0000-0000-0000-000000000001', 'three, later') ->> 'status'$$), 'queued',
  'a minute later it is accepted');

-- A page of messages is bounded.
insert into public.messages (session_id, project_id, owner_id, message_id, role, content)
select '66666666-0000-0000-0000-000000000001', '22222222-0000-0000-0000-000000000001', '11111111-0000-0000-0000-000000000001',
       'bulk-' || g, 'assistant', 'line ' || g from generate_series(1, 300) g;
select is(pg_temp.run_as('owner', $$select count(*) || ' ' || min(message_id) || ' ' || max(id) - min(id) from public.get_session_messages('66666666-0000-0000-0000-000000000001', 100000)$$),
  '200 bulk-101 199', 'asking for 100000 messages returns the newest 200 (max_message_page)');
select is(pg_temp.run_as('other user', $$select count(*) from public.get_session_messages('66666666-0000-0000-0000-000000000001')$$),
  'ERROR 42501: not allowed to read session 66666666-0000-0000-0000-000000000001', 'another user may not read the session');

select * from finish();
rollback;
