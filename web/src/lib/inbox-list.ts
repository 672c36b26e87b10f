/**
 * The inbox's list and unread count, pure (tested in tests/web/inbox-list.test.ts).
 *
 * The list is newest first by (createdAt, id), one entry per id: the first page read after each
 * (re)join, the older pages the user asked for, and what arrived live. The unread count is the
 * server's count of unread notifications created up to the newest one of that first page (`upTo`),
 * plus the unread entries of the list created after it, which the server's count cannot hold. A
 * notification that arrives live and is also in the re-read counts once either way: after `upTo`
 * only as a list entry, up to `upTo` only in the server's count. A notification read on the server
 * (another tab, SAM) leaves the count once, listed or not ({@link withReadElsewhere}).
 */
import type { NotificationReadEntry } from '../../../functions/_shared/common/contracts/notifications.ts';

export interface Listed {
  id: string;
  type: string;
  readAt: string | null;
  createdAt: string;
}

/** The server's unread count and the newest creation time it covers (null: nothing counted). */
export interface Counted {
  count: number;
  upTo: string | null;
  /**
   * Notifications not listed whose reading elsewhere this count already dropped (until the count
   * is read again): a second report of the same one drops nothing.
   */
  takenOff?: ReadonlySet<string>;
}

export const NOTHING_COUNTED: Counted = { count: 0, upTo: null };

/**
 * A timestamp as microseconds since the epoch: Postgres sends microseconds and, in JSON, the
 * session's UTC offset, so neither `Date` (milliseconds) nor comparing the strings is exact.
 */
export function micros(iso: string): number {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`not a timestamp: ${iso}`);
  const fraction = /T[\d:]+\.(\d+)/.exec(iso)?.[1] ?? '';
  return ms * 1000 + Number(fraction.padEnd(6, '0').slice(3, 6));
}

/** Newest first by creation time, then by id (the order of the inbox's pages). */
export function newestFirst(a: Listed, b: Listed): number {
  const d = micros(b.createdAt) - micros(a.createdAt);
  return d !== 0 ? d : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** One list of `first` and then `second`, one entry per id (the first one seen wins), newest first. */
export function merged<T extends Listed>(first: readonly T[], second: readonly T[]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const n of [...first, ...second]) {
    if (seen.has(n.id)) continue;
    seen.add(n.id);
    out.push(n);
  }
  return out.sort(newestFirst);
}

/**
 * The list after a (re)join's first page (newest first): the page, and before it what arrived live
 * after its newest entry (the read may have raced it). Older pages read before are dropped: more
 * may have arrived between them and this page than it holds, so they are read again on request.
 */
export function withFirstPage<T extends Listed>(current: readonly T[], page: readonly T[]): T[] {
  const newest = page[0];
  const newer = newest ? current.filter((n) => newestFirst(n, newest) < 0) : current;
  return merged(page, newer);
}

/** The list with an older page appended (what the list holds already stays as it is). */
export function withOlderPage<T extends Listed>(current: readonly T[], page: readonly T[]): T[] {
  return merged(current, page);
}

/** The list with a notification that arrived live, or null when it is not news (a progress line, or listed). */
export function withArrived<T extends Listed>(current: readonly T[], n: T): T[] | null {
  if (n.type === 'progress' || current.some((x) => x.id === n.id)) return null;
  return merged([n], current);
}

/** Whether the server's count holds this notification (created up to what it covers). */
function inCount(n: { createdAt: string }, counted: Counted): boolean {
  return counted.upTo !== null && micros(n.createdAt) <= micros(counted.upTo);
}

/** The user's unread notifications: the server's count and the unread entries created after what it covers. */
export function unreadCount(items: readonly Listed[], counted: Counted): number {
  return counted.count + items.filter((n) => !n.readAt && !inCount(n, counted)).length;
}

/**
 * The server's count after these unread entries were marked read (`delta` -1), or were unread
 * again after the update failed (`delta` +1): only those it holds change it, and it never goes
 * below zero.
 */
export function countAfter(counted: Counted, entries: readonly Listed[], delta: 1 | -1): Counted {
  const held = entries.filter((n) => inCount(n, counted)).length;
  return { ...counted, count: Math.max(0, counted.count + delta * held) };
}

/**
 * The list and the count after notifications were marked read on the server (this tab, another
 * tab or device, SAM answering a question: the event `notification_read`). A listed unread entry
 * is read now and leaves the count if the count holds it (one created after what the count covers
 * stops counting by being read); a listed entry read already changes nothing (this tab marked it).
 * One not listed (an older page not loaded) leaves the count if the count holds it (created up to
 * what it covers), once per id; one created after that was never counted. Never below zero.
 */
export function withReadElsewhere<T extends Listed>(
  items: readonly T[],
  counted: Counted,
  read: readonly NotificationReadEntry[],
): { items: T[]; counted: Counted } {
  const readAt = new Map(read.map((r) => [r.id, r.readAt]));
  const nowRead: T[] = [];
  const nextItems = items.map((n) => {
    const at = readAt.get(n.id);
    if (at === undefined || n.readAt) return n;
    nowRead.push(n);
    return { ...n, readAt: at };
  });
  const listed = new Set(items.map((n) => n.id));
  const takenOff = new Set(counted.takenOff);
  let unlisted = 0;
  for (const r of read) {
    if (listed.has(r.id) || takenOff.has(r.id) || !inCount(r, counted)) continue;
    takenOff.add(r.id);
    unlisted++;
  }
  const after = countAfter(counted, nowRead, -1);
  return { items: nextItems, counted: { ...after, count: Math.max(0, after.count - unlisted), takenOff } };
}
