-- The inbox's unread count (web/src/lib/supabase/notifications.ts: the user's unread notifications,
-- progress lines aside, created up to the newest one listed). notifications_owner_idx (owner_id,
-- created_at desc) already serves the inbox's pages; counting with it reads every notification the
-- user ever had, read or not, and the progress lines, which are never shown and rarely marked read.
-- This one holds only what the count counts.
create index if not exists notifications_unread_idx on public.notifications (owner_id, created_at)
  where read_at is null and type <> 'progress';
