/**
 * What the database broadcasts about a user's notifications on their private topic `user:<id>`:
 * the event `notification_read`, sent when notifications' `read_at` goes from null to a time (the
 * user's own update in any tab or device, or SAM's functions, e.g. answering a question reads its
 * `needs_input`). One message per owner and statement, of at most {@link MAX_READ_ENTRIES}
 * entries (supabase/migrations/20261203030000_notification_read_broadcast.sql); progress lines are
 * never listed. The web inbox marks listed entries read and lowers its unread count.
 *
 * Pure TypeScript on purpose: Deno, Node and the web import this file.
 */
import { z } from 'zod';

/** Entries per `notification_read` message at most: a larger marking is several messages. */
export const MAX_READ_ENTRIES = 500;

/** A timestamp as Postgres writes it in JSON (microseconds, the session's UTC offset). */
const Timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not a timestamp');

/** One notification read: which, when it was created (what the inbox's count covers), and when read. */
export const NotificationReadEntry = z.object({
  id: z.uuid(),
  createdAt: Timestamp,
  readAt: Timestamp,
});
export type NotificationReadEntry = z.infer<typeof NotificationReadEntry>;

/** The payload of the `notification_read` event. */
export const NotificationsRead = z.object({
  notifications: z.array(NotificationReadEntry).min(1).max(MAX_READ_ENTRIES),
});
export type NotificationsRead = z.infer<typeof NotificationsRead>;
