// The user's notifications: read under RLS, marked read through the owner-only update of read_at,
// and live on the private topic `user:<id>` (every type but `progress`): event `notification` for
// a new one, `notification_read` for those marked read anywhere (this tab, another, SAM itself).
import type { RealtimeChannel } from '@supabase/supabase-js';
import {
  NotificationsRead,
  type NotificationReadEntry,
} from '../../../../functions/_shared/common/contracts/notifications.ts';
import type { ChannelStatus } from '../types.ts';
import { sb } from './client.ts';

export type NotificationType =
  'task_complete' | 'needs_input' | 'error' | 'progress' | 'session_ended' | 'pr_created' | 'budget_reached';

export interface InboxNotification {
  id: string;
  type: NotificationType;
  urgency: 'low' | 'medium' | 'high';
  title: string;
  body: string;
  projectId: string | null;
  taskId: string | null;
  readAt: string | null;
  createdAt: string;
}

const COLUMNS = 'id, type, urgency, title, body, project_id, task_id, read_at, created_at';

type Row = {
  id: string;
  type: NotificationType;
  urgency: InboxNotification['urgency'];
  title: string;
  body: string;
  project_id: string | null;
  task_id: string | null;
  read_at: string | null;
  created_at: string;
};

const fromRow = (r: Row): InboxNotification => ({
  id: r.id,
  type: r.type,
  urgency: r.urgency,
  title: r.title,
  body: r.body,
  projectId: r.project_id,
  taskId: r.task_id,
  readAt: r.read_at,
  createdAt: r.created_at,
});

/** Where a page of older notifications starts: after this one, newest first by (created_at, id). */
export interface NotificationCursor {
  createdAt: string;
  id: string;
}

/**
 * A page of notifications (progress lines stay in the chat), newest first by (created_at, id): the
 * newest, or those older than `before` (keyset: what arrives meanwhile shifts nothing).
 */
export async function fetchNotifications(
  options: { limit?: number; before?: NotificationCursor } = {},
): Promise<InboxNotification[]> {
  let query = sb().from('notifications').select(COLUMNS).neq('type', 'progress');
  const before = options.before;
  if (before) {
    // Quoted: a timestamp holds the `.`, `:` and `+` of PostgREST's filter syntax.
    const at = JSON.stringify(before.createdAt);
    query = query.or(`created_at.lt.${at},and(created_at.eq.${at},id.lt.${before.id})`);
  }
  const { data, error } = await query
    .order('created_at', { ascending: false })
    .order('id', { ascending: false })
    .limit(options.limit ?? 50);
  if (error) throw new Error(error.message);
  return (data as Row[]).map(fromRow);
}

/** How many of the user's notifications (progress lines aside) are unread, of those created up to `upTo`. */
export async function countUnreadNotifications(upTo: string): Promise<number> {
  const { count, error } = await sb()
    .from('notifications')
    .select('id', { count: 'exact', head: true })
    .neq('type', 'progress')
    .is('read_at', null)
    .lte('created_at', upTo);
  if (error) throw new Error(error.message);
  if (count === null) throw new Error('the server sent no count of unread notifications');
  return count;
}

/** Marks these notifications read (RLS lets a user change only their own). */
export async function markNotificationsRead(ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const { error } = await sb().from('notifications').update({ read_at: new Date().toISOString() }).in('id', ids);
  if (error) throw new Error(error.message);
}

/** Marks every unread notification of the user read. */
export async function markAllNotificationsRead(): Promise<void> {
  const { error } = await sb().from('notifications').update({ read_at: new Date().toISOString() }).is('read_at', null);
  if (error) throw new Error(error.message);
}

export type { NotificationReadEntry };

export interface NotificationHandlers {
  /** A new notification. */
  onNotification(n: InboxNotification): void;
  /** Notifications whose read_at went from null to a time, one statement's worth (or part of it). */
  onRead(read: NotificationReadEntry[]): void;
  /** `live` after every (re)join: the moment to re-read what may have been missed. */
  onStatus(status: ChannelStatus): void;
}

/** Joins `user:<userId>`; returns the leave function. A channel the server closed is joined again after a second. */
export function joinNotifications(userId: string, handlers: NotificationHandlers): () => void {
  const { onNotification, onRead, onStatus } = handlers;
  let left = false;
  let current: RealtimeChannel | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  const join = async () => {
    onStatus('connecting');
    await sb().realtime.setAuth();
    if (left) return;
    const channel = sb().channel(`user:${userId}`, { config: { private: true } });
    current = channel;
    channel.on('broadcast', { event: 'notification' }, (m) => {
      const n = m.payload as Partial<InboxNotification>;
      if (typeof n.id === 'string' && typeof n.title === 'string' && typeof n.createdAt === 'string')
        onNotification(n as InboxNotification);
    });
    channel.on('broadcast', { event: 'notification_read' }, (m) => {
      // One that does not parse is left to the re-read after the next rejoin.
      const read = NotificationsRead.safeParse(m.payload);
      if (read.success) onRead(read.data.notifications);
      else console.warn('an unreadable notification_read broadcast was ignored', read.error.message);
    });
    channel.subscribe((status) => {
      if (left || current !== channel) return;
      if (status === 'SUBSCRIBED') onStatus('live');
      else if (status === 'CLOSED') {
        onStatus('reconnecting');
        current = undefined;
        void sb().removeChannel(channel);
        retry = setTimeout(() => void join(), 1000);
      } else onStatus('reconnecting');
    });
  };
  void join();
  return () => {
    left = true;
    clearTimeout(retry);
    if (current) void sb().removeChannel(current);
    current = undefined;
  };
}
