import { describe, expect, it } from 'vitest';
import {
  countAfter,
  micros,
  NOTHING_COUNTED,
  unreadCount,
  withArrived,
  withFirstPage,
  withOlderPage,
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
