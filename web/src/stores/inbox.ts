/**
 * The user's notifications inbox: the newest page and the unread count read once, then kept current
 * from the private topic `user:<id>` (both re-read after every (re)join, so nothing missed while
 * disconnected is lost): new notifications, and those marked read anywhere (another tab or device,
 * SAM answering a question). Older pages on request ("Show older"). The list and the count's bookkeeping
 * are pure, in lib/inbox-list.ts. A notification that arrives while the tab is hidden also shows as a
 * browser notification, if the user allowed them.
 */
import { batch, createSignal } from 'solid-js';
import { notifyWhenHidden } from '../lib/browser-notify.ts';
import {
  countAfter,
  NOTHING_COUNTED,
  unreadCount,
  withArrived,
  withFirstPage,
  withOlderPage,
  withReadElsewhere,
  type Counted,
} from '../lib/inbox-list.ts';
import { navigate, setInboxOpen } from '../lib/route.ts';
import * as api from '../lib/supabase/index.ts';
import type { ChannelStatus } from '../lib/types.ts';

type Item = api.InboxNotification;

/** Notifications per page. */
export const INBOX_PAGE = 50;

const [items, setItems] = createSignal<Item[]>([]);
const [counted, setCounted] = createSignal<Counted>(NOTHING_COUNTED);
const [older, setOlder] = createSignal<api.NotificationCursor | null>(null);
const [loadingOlder, setLoadingOlder] = createSignal(false);
const [status, setStatus] = createSignal<ChannelStatus>('closed');
const [error, setError] = createSignal<string | null>(null);

export const inbox = {
  items,
  status,
  error,
  /** The user's unread notifications, loaded or not. */
  unread: () => unreadCount(items(), counted()),
  /** Whether there are older notifications than the list holds. */
  hasOlder: () => older() !== null,
  loadingOlder,
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
/** Bumped by every (re)join and stop: a page read for an earlier list is dropped. */
let generation = 0;
/**
 * Bumped by every marking, this tab's or one reported read from elsewhere; `marking` settles when
 * all this tab started so far have.
 */
let marks = 0;
let marking: Promise<unknown> = Promise.resolve();

/** Starts following the signed-in user's notifications (again only for another user). */
export function startInbox(userId: string): void {
  if (joinedAs === userId) return;
  stopInbox();
  joinedAs = userId;
  leave = api.joinNotifications(userId, {
    onNotification: arrived,
    onRead: readElsewhere,
    onStatus: (s) => {
      setStatus(s);
      if (s === 'live') void reload();
    },
  });
}

export function stopInbox(): void {
  leave?.();
  leave = null;
  joinedAs = null;
  generation++;
  batch(() => {
    setItems([]);
    setCounted(NOTHING_COUNTED);
    setOlder(null);
    setLoadingOlder(false);
    setStatus('closed');
  });
}

/**
 * Reads from the server once no marking is under way, again if one started meanwhile (what was
 * read may predate it); after a few tries what was read last stands.
 */
async function readSettled<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const before = marks;
    await marking;
    const result = await read();
    if (marks === before || attempt === 3) return result;
  }
}

/** The cursor after a page read with one extra row: the page's last entry, or null when nothing is older. */
function cursorAfter(rows: Item[]): api.NotificationCursor | null {
  const last = rows[INBOX_PAGE - 1];
  return rows.length > INBOX_PAGE && last ? { createdAt: last.createdAt, id: last.id } : null;
}

async function reload(): Promise<void> {
  const mine = ++generation;
  // No older page while the first one is read again: it would start from the list being replaced.
  batch(() => {
    setOlder(null);
    setLoadingOlder(false);
  });
  try {
    const { rows, count } = await readSettled(async () => {
      const rows = await api.fetchNotifications({ limit: INBOX_PAGE + 1 });
      const newest = rows[0]?.createdAt;
      return { rows, count: newest ? { count: await api.countUnreadNotifications(newest), upTo: newest } : null };
    });
    if (mine !== generation) return;
    batch(() => {
      setItems(withFirstPage(items(), rows.slice(0, INBOX_PAGE)));
      setCounted(count ?? NOTHING_COUNTED);
      setOlder(cursorAfter(rows));
      setError(null);
    });
  } catch (e) {
    if (mine === generation) setError(e instanceof Error ? e.message : String(e));
  }
}

/** Appends the next page of older notifications ("Show older"). */
export async function showOlder(): Promise<void> {
  const before = older();
  if (!before || loadingOlder()) return;
  const mine = generation;
  setLoadingOlder(true);
  try {
    const rows = await readSettled(() => api.fetchNotifications({ limit: INBOX_PAGE + 1, before }));
    if (mine !== generation) return;
    batch(() => {
      setItems(withOlderPage(items(), rows.slice(0, INBOX_PAGE)));
      setOlder(cursorAfter(rows));
      setError(null);
    });
  } catch (e) {
    if (mine === generation) setError(e instanceof Error ? e.message : String(e));
  } finally {
    if (mine === generation) setLoadingOlder(false);
  }
}

function arrived(n: Item): void {
  const next = withArrived(items(), n);
  if (!next) return;
  setItems(next);
  notifyWhenHidden(`${notificationWords(n.type)}: ${n.title}`, n.body, n.id, () => void open(n));
}

/**
 * Notifications marked read on the server (this tab's own marking comes back too, and changes
 * nothing: its entries are read already). A page or count being read meanwhile may predate the
 * marking, so it is read again (`marks`, readSettled). What stays open: a marking committed just
 * before a count was read, whose report takes longer to arrive than the count's answer, drops the
 * count once more (until the next rejoin).
 */
function readElsewhere(read: api.NotificationReadEntry[]): void {
  marks++;
  const next = withReadElsewhere(items(), counted(), read);
  batch(() => {
    setItems(next.items);
    setCounted(next.counted);
  });
}

/** Counts a marking in `marks` and keeps it in `marking` until it settles. */
function track(done: Promise<void>): Promise<void> {
  marks++;
  marking = Promise.allSettled([marking, done]);
  return done;
}

function setRead(ids: Set<string>, at: string | null): void {
  setItems(items().map((n) => (ids.has(n.id) ? { ...n, readAt: at } : n)));
}

/**
 * Shows these unread entries read and the count changed (`delta` -1) at once, then sends it; if the
 * server refuses, they are unread again (`delta` +1) and the refusal is shown.
 */
async function sendRead(
  unread: Item[],
  change: (c: Counted, delta: 1 | -1) => Counted,
  send: () => Promise<void>,
): Promise<void> {
  const ids = new Set(unread.map((n) => n.id));
  batch(() => {
    setRead(ids, new Date().toISOString());
    setCounted(change(counted(), -1));
  });
  try {
    await send();
    setError(null);
  } catch (e) {
    batch(() => {
      setRead(ids, null);
      setCounted(change(counted(), 1));
      setError(e instanceof Error ? e.message : String(e));
    });
  }
}

export function markRead(ids: string[]): Promise<void> {
  const unread = items().filter((n) => ids.includes(n.id) && !n.readAt);
  if (unread.length === 0) return Promise.resolve();
  return track(
    sendRead(
      unread,
      (c, delta) => countAfter(c, unread, delta),
      () => api.markNotificationsRead(unread.map((n) => n.id)),
    ),
  );
}

/** Marks every unread notification of the user read, the loaded ones and the older ones alike. */
export function markAllRead(): Promise<void> {
  const unread = items().filter((n) => !n.readAt);
  const was = counted().count;
  return track(
    sendRead(
      unread,
      // None is unread now; if the server refuses, what it had counted is unread again.
      (c, delta) => ({ ...c, count: delta < 0 ? 0 : c.count + was }),
      api.markAllNotificationsRead,
    ),
  );
}

/** Opens what a notification is about (its task) and marks it read. */
export async function open(n: Item): Promise<void> {
  setInboxOpen(false);
  if (n.projectId) navigate({ name: 'project', projectId: n.projectId, taskId: n.taskId });
  await markRead([n.id]);
}
