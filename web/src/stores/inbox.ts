/**
 * The user's notifications inbox: read once, then kept current from the private topic `user:<id>`
 * (re-read after every (re)join, so nothing missed while disconnected is lost). A notification that
 * arrives while the tab is hidden also shows as a browser notification, if the user allowed them.
 */
import { createSignal } from 'solid-js';
import { notifyWhenHidden } from '../lib/browser-notify.ts';
import { navigate, setInboxOpen } from '../lib/route.ts';
import * as api from '../lib/supabase/index.ts';
import type { ChannelStatus } from '../lib/types.ts';

type Item = api.InboxNotification;

const [items, setItems] = createSignal<Item[]>([]);
const [status, setStatus] = createSignal<ChannelStatus>('closed');
const [error, setError] = createSignal<string | null>(null);

export const inbox = {
  items,
  status,
  error,
  unread: () => items().filter((n) => !n.readAt).length,
};

/** What happened, in words, for a notification's heading. */
export function notificationWords(type: api.NotificationType): string {
  switch (type) {
    case 'task_complete':
      return 'Task completed';
    case 'needs_input':
      return 'The agent needs you';
    case 'error':
      return 'Task failed';
    case 'pr_created':
      return 'Pull request opened';
    case 'budget_reached':
      return 'Budget reached';
    case 'session_ended':
      return 'The agent finished its turn';
    case 'progress':
      return 'Progress';
  }
}

let leave: (() => void) | null = null;
let joinedAs: string | null = null;

/** Starts following the signed-in user's notifications (again only for another user). */
export function startInbox(userId: string): void {
  if (joinedAs === userId) return;
  stopInbox();
  joinedAs = userId;
  leave = api.joinNotifications(userId, arrived, (s) => {
    setStatus(s);
    if (s === 'live') void reload();
  });
}

export function stopInbox(): void {
  leave?.();
  leave = null;
  joinedAs = null;
  setItems([]);
  setStatus('closed');
}

async function reload(): Promise<void> {
  try {
    const rows = await api.fetchNotifications();
    const ids = new Set(rows.map((r) => r.id));
    const newest = rows[0]?.createdAt ?? '';
    // Broadcasts newer than the read (it may have raced them) stay on top.
    setItems([...items().filter((n) => !ids.has(n.id) && n.createdAt > newest), ...rows]);
    setError(null);
  } catch (e) {
    setError(e instanceof Error ? e.message : String(e));
  }
}

function arrived(n: Item): void {
  if (n.type === 'progress' || items().some((x) => x.id === n.id)) return;
  setItems([n, ...items()].slice(0, 200));
  notifyWhenHidden(`${notificationWords(n.type)}: ${n.title}`, n.body, n.id, () => void open(n));
}

function setRead(ids: Set<string>, at: string | null): void {
  setItems(items().map((n) => (ids.has(n.id) ? { ...n, readAt: at } : n)));
}

export async function markRead(ids: string[]): Promise<void> {
  const unread = ids.filter((id) => items().some((n) => n.id === id && !n.readAt));
  if (unread.length === 0) return;
  setRead(new Set(unread), new Date().toISOString());
  try {
    await api.markNotificationsRead(unread);
    setError(null);
  } catch (e) {
    setRead(new Set(unread), null);
    setError(e instanceof Error ? e.message : String(e));
  }
}

export async function markAllRead(): Promise<void> {
  const unread = items().filter((n) => !n.readAt);
  setRead(new Set(unread.map((n) => n.id)), new Date().toISOString());
  try {
    await api.markAllNotificationsRead();
    setError(null);
  } catch (e) {
    setRead(new Set(unread.map((n) => n.id)), null);
    setError(e instanceof Error ? e.message : String(e));
  }
}

/** Opens what a notification is about (its task) and marks it read. */
export async function open(n: Item): Promise<void> {
  setInboxOpen(false);
  if (n.projectId) navigate({ name: 'project', projectId: n.projectId, taskId: n.taskId });
  await markRead([n.id]);
}
