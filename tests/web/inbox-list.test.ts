import { describe, expect, it } from 'vitest';
import {
  countAfter,
  micros,
  NOTHING_COUNTED,
  unreadCount,
  withArrived,
  withFirstPage,
  withOlderPage,
  withReadElsewhere,
  type Counted,
  type Listed,
} from '../../web/src/lib/inbox-list.ts';

/** The inbox's list and count bookkeeping (no browser: the pure functions of web/src/lib/inbox-list.ts). */
const at = (second: number, micro = 0) =>
  `2026-12-03T10:00:${String(second).padStart(2, '0')}.${String(micro).padStart(6, '0')}+00:00`;
const n = (id: string, createdAt: string, readAt: string | null = null, type = 'task_complete'): Listed => ({
  id,
  type,
  readAt,
  createdAt,
});
const ids = (list: readonly Listed[]) => list.map((x) => x.id);

describe('micros', () => {
  it('orders by microseconds and across UTC offsets, which comparing strings or Dates would not', () => {
    expect(micros(at(1, 2))).toBe(micros(at(1, 1)) + 1);
    expect(micros('2026-12-03T11:00:01.000002+01:00')).toBe(micros(at(1, 2)));
    expect(micros('2026-12-03T10:00:01+00:00')).toBe(micros(at(1, 0)));
    expect(() => micros('yesterday')).toThrow('not a timestamp: yesterday');
  });
});

describe('the list', () => {
  it('a first page keeps what arrived live after its newest entry and drops older pages read before', () => {
    const current = [n('live', at(9)), n('p1', at(8)), n('old', at(1))];
    const page = [n('p1', at(8), at(9)), n('p2', at(7))];
    const list = withFirstPage(current, page);
    expect(ids(list)).toEqual(['live', 'p1', 'p2']);
    // The page's entry wins over what the list held (it was read again).
    expect(list[1]!.readAt).toBe(at(9));
    expect(ids(withFirstPage(current, []))).toEqual(['live', 'p1', 'old']);
  });

  it('an older page is appended once, newest first by time then id, and what the list holds stays', () => {
    const current = [n('c', at(5)), n('b', at(4), at(6))];
    const page = [n('b', at(4)), n('z', at(3)), n('a', at(3)), n('y', at(2))];
    const list = withOlderPage(current, page);
    expect(ids(list)).toEqual(['c', 'b', 'z', 'a', 'y']);
    expect(list[1]!.readAt).toBe(at(6));
  });

  it('a live arrival goes to its place once; a progress line or a listed one is no news', () => {
    const current = [n('b', at(5)), n('a', at(3))];
    expect(ids(withArrived(current, n('c', at(6)))!)).toEqual(['c', 'b', 'a']);
    expect(ids(withArrived(current, n('late', at(4)))!)).toEqual(['b', 'late', 'a']);
    expect(withArrived(current, n('a', at(3)))).toBeNull();
    expect(withArrived(current, n('p', at(7), null, 'progress'))).toBeNull();
  });
});

describe('the unread count', () => {
  const counted = { count: 7, upTo: at(5) };

  it('is the server’s count plus the unread entries newer than what it covers, each once', () => {
    const items = [n('new-unread', at(6)), n('new-read', at(6), at(7)), n('held', at(5)), n('older', at(2))];
    expect(unreadCount(items, counted)).toBe(8);
    // A notification both re-read and arrived live (up to what the count covers) is not counted again.
    expect(unreadCount(withArrived(items, n('held-again', at(5, 0)))!, counted)).toBe(8);
    // Nothing counted yet (an empty first page): every unread entry counts.
    expect(unreadCount(items, NOTHING_COUNTED)).toBe(3);
  });

  it('drops by the marked entries the server counted, comes back on a refusal, and never goes below zero', () => {
    const marked = [n('held', at(5)), n('older', at(2)), n('new', at(6))];
    const after = countAfter(counted, marked, -1);
    expect(after).toEqual({ count: 5, upTo: at(5) });
    expect(countAfter(after, marked, 1)).toEqual(counted);
    expect(countAfter({ count: 1, upTo: at(5) }, marked, -1).count).toBe(0);
    expect(countAfter(NOTHING_COUNTED, marked, -1)).toEqual(NOTHING_COUNTED);
  });
});

describe('notifications read elsewhere', () => {
  // The server counted 4 unread up to at(5): 'held' (listed) and three on pages not loaded.
  const counted: Counted = { count: 4, upTo: at(5) };
  const items = [n('new', at(6)), n('held', at(5)), n('was-read', at(4), at(4)), n('listed-old', at(3), at(4))];
  const read = (id: string, createdAt: string) => ({ id, createdAt, readAt: at(7) });
  const unread = (r: { items: Listed[]; counted: Counted }) => unreadCount(r.items, r.counted);

  it('a listed unread entry is read, and leaves the count once, whether the count or the list held it', () => {
    expect(unreadCount(items, counted)).toBe(5);
    const held = withReadElsewhere(items, counted, [read('held', at(5))]);
    expect(held.items.find((x) => x.id === 'held')!.readAt).toBe(at(7));
    expect(held.counted.count).toBe(3);
    expect(unread(held)).toBe(4);
    // Newer than what the count covers: it stops counting as a list entry, the count stays.
    const newer = withReadElsewhere(held.items, held.counted, [read('new', at(6))]);
    expect(newer.counted.count).toBe(3);
    expect(unread(newer)).toBe(3);
    // The same report again, or one of an entry this tab marked already: nothing changes.
    expect(unread(withReadElsewhere(newer.items, newer.counted, [read('held', at(5)), read('new', at(6))]))).toBe(3);
    expect(unread(withReadElsewhere(items, counted, [read('was-read', at(4))]))).toBe(5);
  });

  it('one not loaded leaves the count when the count held it, once per id', () => {
    const once = withReadElsewhere(items, counted, [read('unloaded', at(2))]);
    expect(once.items).toEqual(items);
    expect(unread(once)).toBe(4);
    // Reported twice (in one message or two): taken off once.
    expect(unread(withReadElsewhere(once.items, once.counted, [read('unloaded', at(2))]))).toBe(4);
    expect(unread(withReadElsewhere(items, counted, [read('u', at(2)), read('u', at(2))]))).toBe(4);
    // Created after what the count covers and not listed: never counted, so nothing to take off.
    expect(unread(withReadElsewhere(items, counted, [read('later', at(8))]))).toBe(5);
    // Nothing counted yet: nothing to take off.
    expect(withReadElsewhere([], NOTHING_COUNTED, [read('u', at(2))]).counted.count).toBe(0);
  });

  it('"mark all" elsewhere clears loaded and unloaded, and the count never goes below zero', () => {
    const all = [read('new', at(6)), read('held', at(5)), read('u1', at(2)), read('u2', at(2)), read('u3', at(1))];
    const after = withReadElsewhere(items, counted, all);
    expect(unread(after)).toBe(0);
    expect(after.items.every((x) => x.readAt !== null)).toBe(true);
    // A count that was lower than the reports (one read before it was counted): zero, not below.
    const more = withReadElsewhere(items, { count: 2, upTo: at(5) }, all);
    expect(more.counted.count).toBe(0);
    expect(unread(more)).toBe(0);
  });
});
