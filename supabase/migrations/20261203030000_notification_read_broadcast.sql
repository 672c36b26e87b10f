-- Notifications marked read reach every open inbox live.
--
-- A notification is marked read by the user's own update of read_at (the web, in any tab or
-- device) and by SAM's functions (answer_human_input reads the question's `needs_input`). The
-- insert trigger (20261202092000_questions_and_inbox.sql) broadcasts only new rows, so an open
-- inbox kept counting a notification read elsewhere until its next rejoin. This statement trigger
-- broadcasts on the owner's private topic `user:<id>` the event `notification_read`:
--   {"notifications": [{"id", "createdAt", "readAt"}, …]}
-- for the rows whose read_at went from null to a time (progress lines aside: the inbox never
-- lists or counts them). `createdAt` lets the inbox tell whether an entry it has not loaded was in
-- the unread count it read (web/src/lib/inbox-list.ts). One UPDATE marking many ("Mark all read")
-- is one message per owner, of at most 500 entries each (about 65 KB; hosted Realtime's smallest
-- broadcast payload limit is 256 KB): 10,000 rows are 20 messages, not 10,000. A row read again,
-- or an update that leaves read_at as it was, sends nothing.
-- Safe to run twice.

create or replace function public.sam_broadcast_notifications_read() returns trigger
language plpgsql security definer set search_path = '' as $$
declare r record;
begin
  for r in
    select c.owner_id, jsonb_agg(jsonb_build_object('id', c.id, 'createdAt', c.created_at, 'readAt', c.read_at)
                                 order by c.created_at, c.id) as entries
      from (select n.owner_id, n.id, n.created_at, n.read_at,
                   (row_number() over (partition by n.owner_id order by n.created_at, n.id) - 1) / 500 as chunk
              from new_rows n join old_rows o on o.id = n.id
             where o.read_at is null and n.read_at is not null and n.type <> 'progress') c
     group by c.owner_id, c.chunk
     order by c.owner_id, c.chunk
  loop
    perform realtime.send(jsonb_build_object('notifications', r.entries), 'notification_read',
                          'user:' || r.owner_id, true);
  end loop;
  return null;
end $$;
revoke all on function public.sam_broadcast_notifications_read() from public, anon, authenticated;
grant execute on function public.sam_broadcast_notifications_read() to service_role;

-- Every update (a trigger with transition tables cannot name columns); the function sends only
-- for read_at changing from null to a time.
drop trigger if exists notifications_read_broadcast on public.notifications;
create trigger notifications_read_broadcast after update on public.notifications
  referencing old table as old_rows new table as new_rows for each statement
  execute function public.sam_broadcast_notifications_read();
