import type { RequestPermissionRequest } from '@agentclientprotocol/sdk';
import { describe, expect, it } from 'vitest';
import type { BudgetView, PermissionRequestBody, TurnReport } from '../../functions/_shared/common/contracts/cards.ts';
import { PermissionBroker } from './permission-broker.ts';
import { TurnBudget } from './turn-budget.ts';

const request = (kind: 'edit' | 'execute', extra: Record<string, unknown> = {}): RequestPermissionRequest => ({
  sessionId: 's1',
  toolCall: {
    toolCallId: `call-${kind}`,
    title: `${kind} something`,
    kind,
    rawInput: { secret: 'sk-live-123', ...extra },
  },
  options: [],
});

/** A broker whose control plane allows at once the kinds listed in `standing` (answered "always" before). */
function broker(expiresInMs = 60_000, standing = new Set<string>()) {
  const asked: PermissionRequestBody[] = [];
  const closed: [string, string][] = [];
  let n = 0;
  const b = new PermissionBroker({
    ask: async (body) => {
      asked.push(body);
      return {
        requestId: `00000000-0000-4000-8000-00000000000${++n}`,
        expiresAt: new Date(Date.now() + expiresInMs).toISOString(),
        ...(standing.has(body.toolKind ?? body.title) ? { decision: 'allow_always' as const } : {}),
      };
    },
    close: async (id, outcome) => closed.push([id, outcome]),
    scrub: (text) => text.replaceAll('sk-live-123', '***'),
    log: () => {},
  });
  return { b, asked, closed };
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
};

describe('PermissionBroker (permission mode ask)', () => {
  it('puts a request to the user without its secrets and resolves with the answer', async () => {
    const { b, asked } = broker();
    const first = b.decide(request('edit'));
    await until(() => b.pending === 1);
    expect(asked[0]).toMatchObject({ toolCallId: 'call-edit', title: 'edit something', toolKind: 'edit' });
    expect(asked[0]!.detail).toContain('***');
    expect(asked[0]!.detail).not.toContain('sk-live-123');
    expect(b.answer('00000000-0000-4000-8000-000000000001', 'allow_always')).toBe(true);
    // The agent gets the one-time option even for "always": it must ask again, so a revoke takes effect.
    expect(await first).toBe('approve');
    const other = b.decide(request('execute'));
    await until(() => b.pending === 1);
    b.answer('00000000-0000-4000-8000-000000000002', 'reject');
    expect(await other).toBe('reject');
  });

  it('a kind the control plane says is allowed "always" goes on at once, without waiting for an answer', async () => {
    // A fresh broker (a restarted vm-agent, another workspace of the task): the memory is the control plane's.
    const { b, asked } = broker(60_000, new Set(['edit']));
    expect(await b.decide(request('edit'))).toBe('approve');
    expect(b.pending).toBe(0);
    expect(asked).toHaveLength(1);
    const other = b.decide(request('execute'));
    await until(() => b.pending === 1);
    b.answer('00000000-0000-4000-8000-000000000002', 'allow_once');
    expect(await other).toBe('approve');
  });

  it('times a request out at its expiry (closing it) and cancels what waits when the turn ends', async () => {
    const { b, closed } = broker(20);
    expect(await b.decide(request('edit'))).toBe('reject');
    expect(closed).toEqual([['00000000-0000-4000-8000-000000000001', 'timed_out']]);
    const { b: b2, closed: closed2 } = broker();
    const waiting = b2.decide(request('execute'));
    await until(() => b2.pending === 1);
    b2.cancelAll();
    expect(await waiting).toBe('cancelled');
    expect(closed2).toEqual([['00000000-0000-4000-8000-000000000001', 'cancelled']]);
    expect(b2.answer('00000000-0000-4000-8000-000000000001', 'allow_once')).toBe(false);
  });

  it('refuses when the request cannot be put to the user', async () => {
    const b = new PermissionBroker({
      ask: () => Promise.reject(new Error('control plane down')),
      close: async () => {},
      scrub: (t) => t,
      log: () => {},
    });
    expect(await b.decide(request('edit'))).toBe('reject');
  });
});

const view = (patch: Partial<BudgetView>): BudgetView => ({
  taskId: null,
  state: 'running',
  paused: false,
  reason: null,
  pause: 0,
  limits: { turns: null, wallMs: null, tokens: null },
  used: { turns: 0, wallMs: 0, tokens: 0 },
  wallMsLeft: null,
  ...patch,
});

describe('TurnBudget (turn boundaries)', () => {
  it('waits while paused until resumed, cuts a turn at the time left, and counts each turn once with its own seq', async () => {
    const answers = [
      view({ paused: true, state: 'paused', reason: 'the budget of 1 agent turn is used' }),
      view({ wallMsLeft: 30 }),
    ];
    const turns: TurnReport[] = [];
    const budget = new TurnBudget({
      budget: async () => answers.shift() ?? view({}),
      recordTurn: async (t) => (turns.push(t), view({})),
      log: () => {},
    });
    const before = budget.beforeTurn(() => false);
    await until(() => budget.paused);
    expect(budget.resume()).toBe(true);
    expect(await before).toEqual({ go: true, wallMsLeft: 30 });
    let cancelled = false;
    const end = budget.startTurn(30, () => (cancelled = true));
    await until(() => cancelled);
    expect(await end(120, 'cancelled')).toBe(true);
    expect(await budget.startTurn(null, () => {})(null)).toBe(false);
    expect(turns.map((t) => [t.seq, t.tokens])).toEqual([
      [1, 120],
      [2, undefined],
    ]);
  });

  it('gives up waiting when the workspace stops, and runs unbudgeted when the budget cannot be read', async () => {
    let stopping = false;
    const budget = new TurnBudget({
      budget: async () => view({ paused: true, state: 'paused' }),
      recordTurn: async () => view({}),
      log: () => {},
    });
    const waiting = budget.beforeTurn(() => stopping);
    await until(() => budget.paused);
    stopping = true;
    budget.poke();
    expect(await waiting).toEqual({ go: false, wallMsLeft: null });
    const offline = new TurnBudget({
      budget: () => Promise.reject(new Error('404')),
      recordTurn: async () => view({}),
      log: () => {},
    });
    expect(await offline.beforeTurn(() => false)).toEqual({ go: true, wallMsLeft: null });
  });
});
