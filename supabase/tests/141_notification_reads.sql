-- Notifications marked read are broadcast on the owner's topic `user:<id>` (event
-- `notification_read`, 20261203030000_notification_read_broadcast.sql): answering a question reads
-- its notification and says so; "mark all" is one message for many rows (at most 500 entries
-- each); a row read again, a progress line, or an update that leaves read_at alone sends nothing;
-- another owner's topic gets nothing.
begin;
\ir _fixtures.psql
select plan(13);

create temp table q (name text primary key, id uuid);
insert into q values ('asked', (pg_temp.run_as('agent A1', $$select public.request_human_input('Postgres or SQLite?')$$))::uuid);
create temp view reads as select topic, payload from realtime.messages where event = 'notification_read';

-- Answering the question reads its notification: one read event on the owner's topic, with its id.
delete from realtime.messages;
select is(pg_temp.run_as('owner', format($$select public.answer_human_input(%L, 'Postgres')::text$$,
  (select id from q where name = 'asked'))), 'true', 'the owner answers');
select is((select string_agg(topic, ',') from reads), 'user:11111111-0000-0000-0000-000000000001',
  'answering broadcasts one read event on the owner''s topic');
select is((select (payload -> 'notifications' -> 0 ->> 'id')::uuid from reads),
  (select id from public.notifications where dedupe_key = 'needs_input:' || (select id from q where name = 'asked')),
  'it carries the question''s notification');
select is((select (payload -> 'notifications' -> 0 ->> 'readAt')::timestamptz || ' ' ||
                  (payload -> 'notifications' -> 0 ->> 'createdAt')::timestamptz from reads),
  (select read_at || ' ' || created_at from public.notifications
    where dedupe_key = 'needs_input:' || (select id from q where name = 'asked')),
  'with when it was read and when it was created');

-- The owner's "mark all": one message for every row it read, progress lines aside.
select public.sam_notify('11111111-0000-0000-0000-000000000001', null, null, 'task_complete', 'n' || i, '', null)
  from generate_series(1, 30) i;
select public.sam_notify('11111111-0000-0000-0000-000000000001', null, null, 'progress', 'half way', '', null);
select public.sam_notify('11111111-0000-0000-0000-000000000002', null, null, 'task_complete', 'not yours', '', null);
create temp table unread as
  select count(*)::text as n from public.notifications where owner_id = '11111111-0000-0000-0000-000000000001' and read_at is null;
delete from realtime.messages;
select is(pg_temp.run_as('owner', $$with u as (update public.notifications set read_at = now() where read_at is null
    returning 1) select count(*)::text from u$$), (select n from unread), 'the owner marks all unread rows read, progress lines too');
select is((select count(*)::int from reads), 1, 'marking all read sends one message, not one per row');
select is((select topic || ' ' || jsonb_array_length(payload -> 'notifications') from reads),
  'user:11111111-0000-0000-0000-000000000001 30', 'on the owner''s topic, listing the 30 it read (no progress line)');
select is((select count(*)::int from realtime.messages where topic = 'user:11111111-0000-0000-0000-000000000002'), 0,
  'another owner''s topic gets nothing');

-- Read again, or read_at left as it was: nothing.
delete from realtime.messages;
select is(pg_temp.run_as('owner', $$with u as (update public.notifications set read_at = now()
    where title = 'n1' returning 1) select count(*)::text from u$$), '1', 'the owner marks a read row read again');
update public.notifications set urgency = 'high' where owner_id = '11111111-0000-0000-0000-000000000002';
select is((select count(*)::int from realtime.messages), 0, 'a second marking, or another change, sends nothing');

-- Another owner's marking reaches only their own topic.
select is(pg_temp.run_as('other user', $$with u as (update public.notifications set read_at = now()
    where read_at is null and type <> 'progress' returning 1) select count(*)::text from u$$), '1', 'the other user marks theirs read');
select is((select string_agg(topic, ',') from reads), 'user:11111111-0000-0000-0000-000000000002',
  'only on their topic');

-- A very large marking is bounded: at most 500 entries a message.
delete from realtime.messages;
insert into public.notifications (owner_id, type, urgency, title)
  select '11111111-0000-0000-0000-000000000001', 'task_complete', 'low', 'bulk ' || i from generate_series(1, 1200) i;
update public.notifications set read_at = now() where read_at is null;
select is((select string_agg(jsonb_array_length(payload -> 'notifications')::text, ',' order by jsonb_array_length(payload -> 'notifications') desc)
             from reads where topic = 'user:11111111-0000-0000-0000-000000000001'), '500,500,200',
  '1,200 rows read at once are three messages of at most 500');

select * from finish();
rollback;
