-- The ideas board: an idea's stage follows its task's status; the owner moves it across the board
-- with move_idea (guarded, idempotent, an event per move); executing runs the idea's own task with
-- the idea as its first prompt; list_ideas shows the board under RLS; an agent's edit is broadcast.
begin;
\ir _fixtures.psql
select plan(30);

create temp table i (name text primary key, id uuid);
grant all on i to public;
insert into i select 'a', (pg_temp.run_as('owner', $$select public.create_idea('Cache thumbnails', 'At the edge.', 5,
  '22222222-0000-0000-0000-000000000001')$$))::uuid;
insert into i select 'b', (pg_temp.run_as('agent A1', $$select public.create_idea('Resize on upload', '', 1)$$))::uuid;
create function pg_temp.idea(p_name text) returns uuid language sql as $$ select id from i where name = p_name $$;
create function pg_temp.move(p_who text, p_name text, p_stage text) returns text language sql as $$
  select pg_temp.run_as(p_who, format('select public.move_idea(%L, %L)::text', pg_temp.idea(p_name), p_stage))
$$;
create function pg_temp.stage(p_name text) returns text language sql as $$
  select public.idea_stage(status) from public.tasks where id = pg_temp.idea(p_name)
$$;

-- Stages
select is(public.idea_stage('draft'), 'exploring', 'draft is exploring');
select is(public.idea_stage('in_progress'), 'executing', 'a running task is executing');
select is(public.idea_stage('failed'), 'parked', 'a failed one is parked');

-- The board under RLS
select is(pg_temp.run_as('owner', $$select string_agg(title || ':' || stage, ',' order by title)
  from public.list_ideas('22222222-0000-0000-0000-000000000001')$$),
  'Cache thumbnails:exploring,Resize on upload:exploring', 'the owner sees both ideas, the agent''s too, and not the tasks');
select is(pg_temp.run_as('owner', format($$select count(*)::text from public.list_ideas('22222222-0000-0000-0000-000000000001', %L)$$,
  pg_temp.idea('a'))), '1', 'one card of the board');
select is(pg_temp.run_as('other user', $$select count(*)::text from public.list_ideas('22222222-0000-0000-0000-000000000001')$$),
  '0', 'another user sees nothing of it');
select is(pg_temp.run_as('anon', $$select count(*)::text from public.list_ideas('22222222-0000-0000-0000-000000000001')$$),
  'ERROR 42501: permission denied for function list_ideas', 'anon may not read it');

-- Moves
select is(pg_temp.move('owner', 'a', 'ready'), 'true', 'exploring → ready');
select is(pg_temp.move('owner', 'a', 'ready'), 'false', 'again: nothing changes');
select is(pg_temp.move('owner', 'a', 'exploring'), 'true', 'ready → exploring');
select is(pg_temp.move('owner', 'a', 'parked'), 'true', 'exploring → parked');
select is(pg_temp.move('owner', 'a', 'exploring'), 'true', 'parked before it ran → exploring');
select is(pg_temp.move('owner', 'a', 'done'), 'ERROR 55000: an idea cannot go from exploring to done',
  'exploring → done is refused (it is ready first)');
select is(pg_temp.move('owner', 'a', 'nowhere'), 'ERROR 22023: an idea''s stage is exploring, ready, executing, done or parked',
  'an unknown stage is refused');
select is(pg_temp.move('other user', 'a', 'ready'), format('ERROR 42501: not allowed to act on task %s', pg_temp.idea('a')),
  'another user may not move it');
select is(pg_temp.move('agent A1', 'a', 'ready'), 'ERROR 42501: permission denied for function move_idea',
  'an agent may not move it on the board (it has update_idea)');
select is(pg_temp.move('anon', 'a', 'ready'), 'ERROR 42501: permission denied for function move_idea', 'anon may not');
select is(pg_temp.stage('a'), 'exploring', 'the refused moves changed nothing');
select is((select string_agg(coalesce(from_status::text, '-') || '>' || to_status || ':' || reason, ',' order by id)
             from public.task_events where task_id = pg_temp.idea('a')),
  '->draft:idea created,draft>ready:idea ready,ready>draft:idea exploring,draft>cancelled:idea parked,cancelled>draft:idea exploring',
  'a task_events row per move');

-- Executing runs the idea's own task
update public.tasks set description = 'Note it in NOTES.md.' where id = pg_temp.idea('a');
select is(pg_temp.move('owner', 'a', 'executing'), 'true', 'exploring → executing');
select is((select status::text || '/' || execution_step from public.tasks where id = pg_temp.idea('a')),
  'queued/node_provisioning', 'the task is queued and placed');
select is((select m.content from public.messages m join public.tasks t on t.chat_session_id = m.session_id
            where t.id = pg_temp.idea('a') and m.message_id = 'initial'),
  E'Cache thumbnails\n\nNote it in NOTES.md.', 'the idea is its first prompt');
select is(pg_temp.move('owner', 'a', 'executing'), 'false', 'executing again changes nothing');
select is(pg_temp.move('owner', 'a', 'parked'), 'ERROR 55000: an idea cannot go from executing to parked',
  'a running idea is not parked from the board (stop the task)');
select is(pg_temp.run_as('owner', format($$select stage || '/' || (session_id is not null)::text
  from public.list_ideas('22222222-0000-0000-0000-000000000001', %L)$$, pg_temp.idea('a'))),
  'executing/true', 'the card links to its task''s chat');
select public.sam_task_move(pg_temp.idea('a'), array['queued']::public.task_status[], 'in_progress', 'running', 'the agent runs');
select public.complete_task(pg_temp.idea('a'), 'done', null, null);
select is(pg_temp.stage('a'), 'done', 'the task completed: the idea is done');
select is(pg_temp.move('owner', 'a', 'exploring'), 'ERROR 55000: an idea cannot go from done to exploring',
  'a done idea stays done');

-- Ready → done without running it; a parked one that failed goes back to ready
select pg_temp.move('owner', 'b', 'ready');
select is(pg_temp.move('owner', 'b', 'done'), 'true', 'ready → done');

-- An agent's edit reaches an open board
insert into i select 'c', (pg_temp.run_as('agent A1', $$select public.create_idea('Batch uploads')$$))::uuid;
delete from realtime.messages;
select pg_temp.run_as('agent A1', format($$select public.update_idea(%L, '{"content": "In groups of 10.", "priority": 9}')::text$$,
  pg_temp.idea('c')));
select is((select count(*)::int from realtime.messages where topic = 'project:22222222-0000-0000-0000-000000000001'
            and event = 'task' and payload ->> 'taskId' = pg_temp.idea('c')::text), 1, 'an agent''s edit is one broadcast');
select is((select count(*)::int from realtime.messages where topic = 'session:66666666-0000-0000-0000-000000000001'), 0,
  'and no other topic hears it');

select * from finish();
rollback;
