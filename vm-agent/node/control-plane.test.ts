import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { isPermanentRejection } from '../outbox/delivery-errors.ts';
import { ControlPlaneClient, ControlPlaneError, isUnauthorized, retryAfterMs } from './control-plane.ts';

const NODE_ID = '3f1e1c9a-0000-4000-8000-000000000001';
const TOKEN = 'node-token-that-must-stay-in-the-header';

/** A stand-in for the vm-agent function, called in-process through `app.request`. */
function clientFor(app: Hono, seen: { authorization?: string; url?: string }[] = []) {
  return new ControlPlaneClient({
    baseUrl: 'http://control-plane.test/functions/v1/vm-agent/',
    fetch: (input, init) => {
      const request = new Request(input, init);
      seen.push({ authorization: request.headers.get('authorization') ?? undefined, url: request.url });
      return Promise.resolve(app.request(request));
    },
  });
}

async function caught(promise: Promise<unknown>): Promise<ControlPlaneError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ControlPlaneError);
  return error as ControlPlaneError;
}

describe('control-plane client', () => {
  it('sends the token only in the Authorization header and parses answers with the contracts', async () => {
    const app = new Hono().post('/functions/v1/vm-agent/nodes/heartbeat', async (c) => {
      const body = await c.req.json();
      return c.json({ nodeId: NODE_ID, status: 'active', pendingCommands: body.activeWorkspaces.length });
    });
    const seen: { authorization?: string; url?: string }[] = [];
    const beat = await clientFor(app, seen).heartbeat(TOKEN, { activeWorkspaces: [NODE_ID] });
    expect(beat).toEqual({ nodeId: NODE_ID, status: 'active', pendingCommands: 1 });
    expect(seen).toEqual([
      { authorization: `Bearer ${TOKEN}`, url: 'http://control-plane.test/functions/v1/vm-agent/nodes/heartbeat' },
    ]);
  });

  it('turns a revoked token into a 401 with its code, never echoing the token', async () => {
    const app = new Hono().get('/functions/v1/vm-agent/nodes/commands', (c) =>
      c.json({ error: { code: 'token_revoked', message: 'This node token has expired or been revoked' } }, 401),
    );
    const error = await caught(clientFor(app).pollCommands(TOKEN, 25));
    expect(error).toMatchObject({ status: 401, code: 'token_revoked' });
    expect(isUnauthorized(error)).toBe(true);
    expect(isPermanentRejection(error)).toBe(true);
    expect(error.message).toBe('GET /nodes/commands: 401 token_revoked: This node token has expired or been revoked');
    expect(error.message).not.toContain(TOKEN);
  });

  it('keeps the Retry-After of 503 and 429 answers (seconds or a date) and counts them as transient', async () => {
    const app = new Hono()
      .post('/functions/v1/vm-agent/workspaces/ready', (c) => c.text('upstream down', 503, { 'retry-after': '7' }))
      .post('/functions/v1/vm-agent/workspaces/stopped', (c) =>
        c.json({ code: 'WORKER_ERROR', message: 'busy' }, 429, {
          'retry-after': new Date(Date.now() + 60_000).toUTCString(),
        }),
      );
    const down = await caught(clientFor(app).workspaceReady(TOKEN));
    expect(down).toMatchObject({ status: 503, retryAfterMs: 7000 });
    expect(down.message).toBe('POST /workspaces/ready: 503: upstream down');
    expect(isPermanentRejection(down)).toBe(false);
    const busy = await caught(clientFor(app).workspaceStopped(TOKEN));
    // A code outside the contract (the edge runtime's) is kept as sent, but is no VmAgentErrorCode.
    expect(busy).toMatchObject({ status: 429, code: undefined, serverCode: 'WORKER_ERROR' });
    expect(busy.retryAfterMs).toBeGreaterThan(50_000);
    expect(isPermanentRejection(busy)).toBe(false);
    expect(retryAfterMs('nonsense')).toBeUndefined();
  });

  it('renews a node token through POST /nodes/token, and reports a refusal with its code', async () => {
    const app = new Hono().post('/functions/v1/vm-agent/nodes/token', (c) =>
      c.req.header('authorization') === `Bearer ${TOKEN}`
        ? c.json({ nodeToken: 'fresh', expiresAt: '2026-12-02T10:00:00.000Z' })
        : c.json({ error: { code: 'token_revoked', message: 'revoked' } }, 401),
    );
    expect(await clientFor(app).renewNodeToken(TOKEN)).toEqual({
      nodeToken: 'fresh',
      expiresAt: '2026-12-02T10:00:00.000Z',
    });
    const refused = await caught(clientFor(app).renewNodeToken('another'));
    expect(refused).toMatchObject({ status: 401, code: 'token_revoked' });
  });

  it('reports a network failure and an answer outside the contract without a status', async () => {
    const offline = new ControlPlaneClient({
      baseUrl: 'http://control-plane.test/vm-agent',
      fetch: () => Promise.reject(new TypeError('fetch failed')),
    });
    const net = await caught(offline.workspaceReady(TOKEN));
    expect(net).toMatchObject({ status: undefined, message: 'POST /workspaces/ready: fetch failed' });
    const app = new Hono().post('/functions/v1/vm-agent/sessions', (c) => c.json({ agentSessionId: 'nope' }));
    const bad = await caught(clientFor(app).startSession(TOKEN, { agentType: 'demo' }));
    expect(bad).toMatchObject({ status: undefined, code: 'bad_response' });
    expect(isPermanentRejection(bad)).toBe(false);
  });

  it('hands back commands it cannot take so they can be refused, next to the ones it can', async () => {
    const base = { workspaceId: NODE_ID, createdAt: new Date().toISOString() };
    const app = new Hono().get('/functions/v1/vm-agent/nodes/commands', (c) => {
      expect(c.req.query('wait')).toBe('3');
      return c.json({
        commands: [
          {
            ...base,
            id: '3f1e1c9a-0000-4000-8000-00000000000a',
            kind: 'stop_workspace',
            payload: { workspaceId: NODE_ID },
          },
          { ...base, id: '3f1e1c9a-0000-4000-8000-00000000000b', kind: 'reboot', payload: {} },
        ],
      });
    });
    const polled = await clientFor(app).pollCommands(TOKEN, 3);
    expect(polled[0]).toMatchObject({ ok: true, command: { kind: 'stop_workspace' } });
    expect(polled[1]).toMatchObject({ ok: false, id: '3f1e1c9a-0000-4000-8000-00000000000b', kind: 'reboot' });
  });
});
