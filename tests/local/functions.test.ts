import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { paths } from '../../supabase/local/paths.ts';
import { functionsFactory, isFunctionsService } from '../../supabase/local/functions/index.ts';
import { signAccessToken } from '../../supabase/local/keys.ts';
import { startTestStack, useTestStack } from '../helpers/local-stack.ts';
import { processAlive } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const FIXTURE_CONFIG = join(paths.root, 'tests', 'fixtures', 'supabase', 'config.toml');
const DENO_VERSION = (
  JSON.parse(readFileSync(join(paths.root, 'node_modules', 'deno', 'package.json'), 'utf8')) as { version: string }
).version;

// Something secret in the parent's environment that no function may see.
const PARENT_SECRET = `parent-secret-${Date.now()}`;
process.env.SAM_TEST_PARENT_SECRET = PARENT_SECRET;

const t = useTestStack({ factories: [functionsFactory({ configPath: FIXTURE_CONFIG })] }, 'functions');

// Node 20 has no global WebSocket; supabase-js's Realtime client wants one at construction.
const client = () =>
  createClient(t.url, t.publishableKey, {
    auth: { persistSession: false },
    realtime: { transport: WebSocket as unknown as typeof globalThis.WebSocket },
  });
const fn = (path: string) => `${t.url}/functions/v1/${path}`;

describe('edge functions under real Deno', () => {
  it('runs a function under Deno, reached with supabase-js', async () => {
    const { data, error } = await client().functions.invoke('hello/runtime', { method: 'GET' });
    expect(error).toBeNull();
    expect(data).toMatchObject({ deno: DENO_VERSION, edgeRuntime: 'function' });
  });

  it('queries Postgres through SUPABASE_DB_URL as the non-superuser postgres role', async () => {
    const { data, error } = await client().functions.invoke('hello/db', { method: 'GET' });
    expect(error).toBeNull();
    expect(data.user).toBe('postgres');
    expect(data.relations).toBeGreaterThan(100);
  });

  it('forwards method, path with the function name, query, body and X-Forwarded-* headers', async () => {
    const { data, error } = await client().functions.invoke('hello/echo/a/b?x=1&y=two', {
      body: { hello: 'world', n: 1 },
    });
    expect(error).toBeNull();
    const url = new URL(data.url);
    expect(url.pathname + url.search).toBe('/hello/echo/a/b?x=1&y=two');
    expect(data.method).toBe('POST');
    expect(data.body).toEqual({ hello: 'world', n: 1 });
    expect(data.forwarded).toEqual({ host: '127.0.0.1', proto: 'http', port: String(t.stack.port) });
    // The gateway turned the publishable key into the anon JWT (supabase/local/gateway.ts).
    expect(data.authorization).toBe(`Bearer ${t.stack.ctx.keys.anonJwt}`);
  });

  it('gives the hosted environment and nothing of the parent environment', async () => {
    const { data, error } = await client().functions.invoke('hello/env', { method: 'GET' });
    expect(error).toBeNull();
    expect(data.url).toBe(t.url);
    expect(data.slug).toBe('hello');
    expect(data.publishableKeys).toEqual({ default: t.publishableKey });
    expect(data.secretKeySha256).toBe(createHash('sha256').update(t.secretKey).digest('hex'));
    expect(data.jwks.keys[0]).toMatchObject({ kid: t.stack.ctx.keys.kid, alg: 'ES256' });
    expect(data.dbUser).toBe('postgres');
    for (const name of [
      'SUPABASE_URL',
      'SUPABASE_DB_URL',
      'SUPABASE_PUBLISHABLE_KEYS',
      'SUPABASE_SECRET_KEYS',
      'SUPABASE_ANON_KEY',
      'SUPABASE_SERVICE_ROLE_KEY',
      'SUPABASE_JWKS',
      'SUPABASE_FUNCTION_SLUG',
    ]) {
      expect(data.names).toContain(name);
    }
    expect(data.names).not.toContain('SAM_TEST_PARENT_SECRET');
    // Only the hosted variables and what Deno needs to run.
    const allowed =
      /^(SUPABASE_|SB_|DENO_|HOME$|PATH$|NO_COLOR$|XDG_CACHE_HOME$|NPM_CONFIG_REGISTRY$|npm_config_registry$)/;
    expect((data.names as string[]).filter((n) => !allowed.test(n))).toEqual([]);
  });

  it('keeps secrets out of the command line of the Deno process', async () => {
    const { data } = await client().functions.invoke('hello/runtime', { method: 'GET' });
    const argv = readFileSync(`/proc/${data.pid}/cmdline`, 'utf8');
    expect(argv).toContain('deno');
    expect(argv).not.toContain(t.secretKey);
    expect(argv).not.toContain(t.stack.ctx.keys.serviceRoleJwt);
    expect(argv).not.toContain(new URL(t.stack.ctx.databaseUrl('postgres')).password);
  });

  it('verify_jwt refuses requests without a token or with an invalid one', async () => {
    const missing = await fetch(fn('hello/runtime'));
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ msg: 'Error: Missing authorization header' });

    const garbage = await fetch(fn('hello/runtime'), {
      headers: { authorization: 'Bearer not.a.jwt', apikey: t.publishableKey },
    });
    expect(garbage.status).toBe(401);
    expect(await garbage.json()).toEqual({ msg: 'Invalid JWT' });

    const foreign = await new SignJWT({ role: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('some-other-secret-with-at-least-32-chars'));
    const forged = await fetch(fn('hello/runtime'), { headers: { authorization: `Bearer ${foreign}` } });
    expect(forged.status).toBe(401);

    const unknownKey = await fetch(fn('hello/runtime'), { headers: { apikey: 'sb_publishable_not_ours' } });
    expect(unknownKey.status).toBe(401);
  });

  it('verify_jwt accepts a user JWT, the secret key, and lets OPTIONS through', async () => {
    const token = await signAccessToken(t.stack.ctx.keys, { role: 'authenticated', sub: crypto.randomUUID() }, 60);
    const user = await fetch(fn('hello/runtime'), { headers: { authorization: `Bearer ${token}` } });
    expect(user.status).toBe(200);
    const secret = await fetch(fn('hello/runtime'), { headers: { apikey: t.secretKey } });
    expect(secret.status).toBe(200);
    const preflight = await fetch(fn('hello/runtime'), { method: 'OPTIONS' });
    expect(preflight.status).not.toBe(401);
    await preflight.text();
  });

  it('serves a verify_jwt = false function without any token, Deno.serve style', async () => {
    const res = await fetch(fn('open/some/path?q=1'));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: '/open/some/path', search: '?q=1', authorization: null, apikey: null });
  });

  it('streams server-sent events as they are written', async () => {
    const res = await fetch(fn('hello/sse'), { headers: { apikey: t.publishableKey } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('data: first')) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended early: ${text}`);
      text += value;
    }
    // The first event arrived while the function is still waiting for /release: it streamed.
    expect(text).not.toContain('event: tick');
    const release = await client().functions.invoke('hello/release');
    expect(release.data).toEqual({ released: true });
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text.match(/event: tick/g)).toHaveLength(3);
  });

  it('answers 404 for unknown and disabled functions, 503 BOOT_ERROR for one that fails to boot', async () => {
    const unknown = await fetch(fn('nope'), { headers: { apikey: t.publishableKey } });
    expect(unknown.status).toBe(404);
    await unknown.text();
    const disabled = await fetch(fn('disabled'), { headers: { apikey: t.publishableKey } });
    expect(disabled.status).toBe(404);
    await disabled.text();

    const { error } = await client().functions.invoke('broken');
    expect(error?.context?.status).toBe(503);
    expect(await (error.context as Response).json()).toMatchObject({ code: 'BOOT_ERROR' });
    const log = readFileSync(join(t.stack.ctx.runtimeDir, 'functions', 'broken.log'), 'utf8');
    expect(log).toContain('this function fails on purpose while booting');
  });

  it('starts a crashed function again on the next request', async () => {
    const first = await client().functions.invoke('hello/runtime', { method: 'GET' });
    const pid = first.data.pid as number;
    process.kill(pid, 'SIGKILL');
    // Wait until the stack saw the exit (a request racing the crash itself fails, as on hosted).
    const log = join(t.stack.ctx.runtimeDir, 'functions', 'hello.log');
    await waitFor(
      'the stack to log the exit',
      () => readFileSync(log, 'utf8').trimEnd().endsWith('hello exited (SIGKILL)'),
      20_000,
      20,
    );
    expect(processAlive(pid)).toBe(false);
    const second = await client().functions.invoke('hello/runtime', { method: 'GET' });
    expect(second.error).toBeNull();
    expect(second.data.pid).not.toBe(pid);
  });

  it('an outage stops every function and answers 503 until it ends, then functions start again', async () => {
    const before = await client().functions.invoke('hello/runtime', { method: 'GET' });
    const pid = before.data.pid as number;
    const service = t.stack.services.find(isFunctionsService)!;
    await service.suspend();
    try {
      expect(processAlive(pid)).toBe(false);
      const res = await fetch(fn('hello/runtime'), { headers: { apikey: t.publishableKey } });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ code: 'FUNCTIONS_UNAVAILABLE', message: 'Edge functions are unavailable' });
      expect((await t.stack.health()).functions).toBe(false);
    } finally {
      service.resume();
    }
    const after = await client().functions.invoke('hello/runtime', { method: 'GET' });
    expect(after.error).toBeNull();
    expect(after.data.pid).not.toBe(pid);
  });
});

describe('watching function files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sam-fn-watch-'));
  let stack: Awaited<ReturnType<typeof startTestStack>>;
  const source = (version: string) =>
    `const g = globalThis as unknown as { Deno: { serve(h: () => Response): unknown } };\n` +
    `g.Deno.serve(() => new Response(${JSON.stringify(version)}));\n`;

  beforeAll(async () => {
    mkdirSync(join(dir, 'supabase'));
    mkdirSync(join(dir, 'functions', 'live'), { recursive: true });
    writeFileSync(join(dir, 'functions', 'live', 'index.ts'), source('v1'));
    writeFileSync(
      join(dir, 'supabase', 'config.toml'),
      '[functions.live]\nverify_jwt = false\nentrypoint = "../functions/live/index.ts"\n',
    );
    stack = await startTestStack(
      { watchFunctions: true, factories: [functionsFactory({ configPath: join(dir, 'supabase', 'config.toml') })] },
      'functions_watch',
    );
  }, 120_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('restarts a function when its files change', async () => {
    const get = async () => (await fetch(`${stack.url}/functions/v1/live`)).text();
    expect(await get()).toBe('v1');
    writeFileSync(join(dir, 'functions', 'live', 'index.ts'), source('v2'));
    await waitFor('the function to serve its new version', async () => (await get()) === 'v2', 20_000);
  });
});
