import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { auth } from '../../supabase/local/auth/index.ts';
import { realtimeService } from '../../supabase/local/realtime/service.ts';
import { rest } from '../../supabase/local/rest/index.ts';
import { useTestStack } from '../helpers/local-stack.ts';

const t = useTestStack({ factories: [auth, rest, realtimeService], emailConfirmation: false }, 'abuse_gateway');

const MISSING = {
  message: 'No API key found in request',
  hint: 'No `apikey` request header or url param was found.',
};
const INVALID = {
  message: 'Invalid API key',
  hint: 'Double check your Supabase `anon` or `service_role` API key.',
};

let n = 0;
const email = () => `gateway-${process.pid}-${++n}@example.test`;

function signup(headers: Record<string, string>, query = '') {
  return fetch(`${t.url}/auth/v1/signup${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email: email(), password: 'correct horse battery' }),
  });
}

/** The status and body of a websocket upgrade the server refuses (or 101 when it opens). */
function upgrade(query: string): Promise<{ status: number; body: unknown }> {
  const ws = new WebSocket(`${t.url.replace('http', 'ws')}/realtime/v1/websocket?vsn=2.0.0${query}`);
  return new Promise((resolve) => {
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as unknown }));
    });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101, body: null });
    });
    ws.on('error', () => {});
  });
}

describe('the gateway refuses Auth, REST and Realtime without a valid API key, as hosted does', () => {
  it('refuses a request without an apikey with 401 and hosted’s JSON, and creates nothing', async () => {
    const before = await t.db.admin`select count(*)::int as n from auth.users`;
    for (const res of [
      await signup({}),
      await fetch(`${t.url}/rest/v1/projects`),
      await fetch(`${t.url}/auth/v1/settings`),
      await fetch(`${t.url}/realtime/v1/api/broadcast`, { method: 'POST', body: '{"messages":[]}' }),
      // A bearer JWT alone is not an API key.
      await fetch(`${t.url}/rest/v1/projects`, { headers: { authorization: `Bearer ${t.stack.ctx.keys.anonJwt}` } }),
    ]) {
      expect(res.status).toBe(401);
      expect(res.headers.get('content-type')).toMatch(/application\/json/);
      expect(await res.json()).toEqual(MISSING);
    }
    const after = await t.db.admin`select count(*)::int as n from auth.users`;
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('refuses an unknown apikey (header or query) with 401 Invalid API key', async () => {
    for (const res of [
      await signup({ apikey: 'sb_publishable_not-the-key' }),
      await signup({}, '?apikey=nope'),
      await fetch(`${t.url}/rest/v1/projects`, { headers: { apikey: `${t.publishableKey}x` } }),
      await fetch(`${t.url}/rest/v1/projects`, { headers: { apikey: t.stack.ctx.keys.legacySecret } }),
    ]) {
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual(INVALID);
    }
  });

  it('refuses a Realtime websocket without a valid apikey query parameter', async () => {
    expect(await upgrade('')).toEqual({ status: 401, body: MISSING });
    expect(await upgrade('&apikey=not-a-key')).toEqual({ status: 401, body: INVALID });
    expect((await upgrade(`&apikey=${t.publishableKey}`)).status).toBe(101);
  });

  it('serves every key the project has: publishable, secret, and the legacy anon / service_role JWTs', async () => {
    const keys = t.stack.ctx.keys;
    for (const key of [keys.publishableKey, keys.secretKey, keys.anonJwt, keys.serviceRoleJwt]) {
      expect((await signup({ apikey: key })).status).toBe(200);
    }
    expect((await signup({}, `?apikey=${encodeURIComponent(keys.publishableKey)}`)).status).toBe(200);
  });

  it('keeps hosted’s open routes open: e-mail verify links, the JWKS, CORS preflights, and /health', async () => {
    const jwks = await fetch(`${t.url}/auth/v1/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(((await jwks.json()) as { keys: unknown[] }).keys).toHaveLength(1);
    // A verify link with a bogus token is Auth's refusal, not the gateway's.
    const verify = await fetch(`${t.url}/auth/v1/verify?token=nope&type=signup`, { redirect: 'manual' });
    expect(verify.status).not.toBe(401);
    const preflight = await fetch(`${t.url}/rest/v1/projects`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(200);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
  });
});
