import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '@supabase/supabase-js';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { authService } from '../../supabase/local/auth/index.ts';
import { useTestStack, type TestStack } from '../helpers/local-stack.ts';

/** Refresh tokens may be presented again for 1 s here (hosted: 10 s), so reuse detection is testable quickly. */
const REUSE_INTERVAL = 1;
const stack = useTestStack({ factories: [authService({ refreshTokenReuseInterval: REUSE_INTERVAL })] }, 'auth');

let n = 0;
const uniqueEmail = (label: string) => `${label}-${process.pid}-${++n}@example.test`;

function client(s: TestStack, key = s.publishableKey, options: Parameters<typeof createClient>[2] = {}) {
  return createClient(s.url, key, {
    ...options,
    auth: { persistSession: false, autoRefreshToken: false, ...options.auth },
    // Node 20 has no global WebSocket; supabase-js builds its Realtime client eagerly.
    realtime: { transport: WebSocket as never },
  });
}

interface Mail {
  to: string;
  type: string;
  otp: string;
  token_hash: string;
  link: string;
}

function mailsTo(s: TestStack, email: string): Mail[] {
  const file = join(s.stack.ctx.runtimeDir, 'mailbox.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Mail)
    .filter((m) => m.to === email);
}

/** A confirmed user with a password, made through the admin API. */
async function confirmedUser(s: TestStack, label: string, password = 'correct horse battery') {
  const email = uniqueEmail(label);
  const admin = client(s, s.secretKey);
  const { data, error } = await admin.auth.admin.createUser({ email, password, email_confirm: true });
  expect(error).toBeNull();
  return { email, password, id: data.user!.id };
}

async function signedIn(s: TestStack, label: string) {
  const u = await confirmedUser(s, label);
  const c = client(s);
  const { data, error } = await c.auth.signInWithPassword({ email: u.email, password: u.password });
  expect(error).toBeNull();
  return { ...u, client: c, session: data.session! };
}

const decode = (jwt: string, part = 1) =>
  JSON.parse(Buffer.from(jwt.split('.')[part]!, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('auth with email confirmation on (hosted default)', () => {
  it('signs up without a session, refuses sign-in until the mailed link is followed, then signs in', async () => {
    const email = uniqueEmail('signup');
    const c = client(stack);
    const { data, error } = await c.auth.signUp({
      email,
      password: 'a good password',
      options: { data: { name: 'Ada' }, emailRedirectTo: 'http://localhost:5173/welcome' },
    });
    expect(error).toBeNull();
    expect(data.session).toBeNull();
    expect(data.user).toMatchObject({ email, user_metadata: { name: 'Ada' }, aud: 'authenticated' });
    expect(data.user!.email_confirmed_at).toBeUndefined();
    expect(data.user!.identities).toHaveLength(1);

    const early = await c.auth.signInWithPassword({ email, password: 'a good password' });
    expect(early.error?.code).toBe('email_not_confirmed');
    expect(early.error?.status).toBe(400);

    // A second mail on request; the first link is superseded.
    expect(
      (await c.auth.resend({ type: 'signup', email, options: { emailRedirectTo: 'http://localhost:5173/welcome' } }))
        .error,
    ).toBeNull();
    const mails = mailsTo(stack, email);
    expect(mails).toHaveLength(2);
    const stale = await fetch(mails[0]!.link, { redirect: 'manual' });
    expect(new URLSearchParams(new URL(stale.headers.get('location')!).hash.slice(1)).get('error_code')).toBe(
      'otp_expired',
    );
    mails.shift();
    expect(statSync(join(stack.stack.ctx.runtimeDir, 'mailbox.jsonl')).mode & 0o777).toBe(0o600);
    const link = new URL(mails[0]!.link);
    expect(link.origin + link.pathname).toBe(`${stack.url}/auth/v1/verify`);
    expect(link.searchParams.get('redirect_to')).toBe('http://localhost:5173/welcome');

    const followed = await fetch(link, { redirect: 'manual' });
    expect(followed.status).toBe(303);
    const location = new URL(followed.headers.get('location')!);
    expect(location.origin + location.pathname).toBe('http://localhost:5173/welcome');
    const fragment = new URLSearchParams(location.hash.slice(1));
    expect(fragment.get('type')).toBe('signup');
    expect(decode(fragment.get('access_token')!).sub).toBe(data.user!.id);

    // The link works once.
    const again = await fetch(link, { redirect: 'manual' });
    expect(new URLSearchParams(new URL(again.headers.get('location')!).hash.slice(1)).get('error_code')).toBe(
      'otp_expired',
    );

    const later = await c.auth.signInWithPassword({ email, password: 'a good password' });
    expect(later.error).toBeNull();
    expect(later.data.user?.email_confirmed_at).toBeTruthy();
  });

  it('confirms with the mailed code through verifyOtp', async () => {
    const email = uniqueEmail('otp');
    const c = client(stack);
    expect((await c.auth.signUp({ email, password: 'a good password' })).error).toBeNull();
    const [mail] = mailsTo(stack, email);
    const wrong = await c.auth.verifyOtp({
      email,
      token: mail!.otp === '000000' ? '111111' : '000000',
      type: 'signup',
    });
    expect(wrong.error?.code).toBe('otp_expired');
    const { data, error } = await c.auth.verifyOtp({ email, token: mail!.otp, type: 'signup' });
    expect(error).toBeNull();
    expect(data.session?.user.email).toBe(email);
    expect(decode(data.session!.access_token).amr).toEqual([{ method: 'email/signup', timestamp: expect.any(Number) }]);
  });

  it('confirms a PKCE sign-up into an auth code that the same client exchanges once for a session', async () => {
    const email = uniqueEmail('pkce');
    const c = client(stack, stack.publishableKey, { auth: { flowType: 'pkce' } });
    const up = await c.auth.signUp({
      email,
      password: 'a good password',
      options: { emailRedirectTo: 'http://localhost:5173/auth/callback?next=%2Fchat' },
    });
    expect(up.error).toBeNull();
    expect(up.data.session).toBeNull();
    const [mail] = mailsTo(stack, email);
    const followed = await fetch(mail!.link, { redirect: 'manual' });
    expect(followed.status).toBe(303);
    const location = new URL(followed.headers.get('location')!);
    expect(location.pathname).toBe('/auth/callback');
    expect(location.searchParams.get('next')).toBe('/chat');
    expect(location.hash).toBe('');
    const code = location.searchParams.get('code')!;
    expect(code).toBeTruthy();

    const wrongClient = await client(stack).auth.exchangeCodeForSession(code);
    expect(wrongClient.error).not.toBeNull(); // no code verifier here
    const { data, error } = await c.auth.exchangeCodeForSession(code);
    expect(error).toBeNull();
    expect(data.session?.user.email).toBe(email);
    expect(data.user?.email_confirmed_at).toBeTruthy();
    const r = await fetch(`${stack.url}/auth/v1/token?grant_type=pkce`, {
      method: 'POST',
      headers: { apikey: stack.publishableKey, 'content-type': 'application/json' },
      body: JSON.stringify({ auth_code: code, code_verifier: 'x'.repeat(43) }),
    });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { code: string }).code).toBe('flow_state_not_found');
  });

  it('answers a sign-up of a confirmed address with a fake user, revealing nothing and mailing nothing', async () => {
    const u = await confirmedUser(stack, 'dup');
    const { data, error } = await client(stack).auth.signUp({ email: u.email, password: 'another password' });
    expect(error).toBeNull();
    expect(data.session).toBeNull();
    expect(data.user!.email).toBe(u.email);
    expect(data.user!.id).not.toBe(u.id);
    expect(data.user!.identities).toEqual([]);
    expect((await client(stack).auth.resend({ type: 'signup', email: u.email })).error).toBeNull();
    expect(mailsTo(stack, u.email)).toHaveLength(0);
    // The real account is untouched: its password still works, the new one does not.
    const c = client(stack);
    expect((await c.auth.signInWithPassword({ email: u.email, password: 'another password' })).error?.code).toBe(
      'invalid_credentials',
    );
    expect((await c.auth.signInWithPassword({ email: u.email, password: u.password })).error).toBeNull();
  });

  it('refuses a wrong password and an unknown address with the same invalid_credentials', async () => {
    const u = await confirmedUser(stack, 'wrongpw');
    const c = client(stack);
    const wrong = await c.auth.signInWithPassword({ email: u.email, password: 'not the password' });
    expect(wrong.error?.code).toBe('invalid_credentials');
    expect(wrong.error?.status).toBe(400);
    expect(wrong.error?.message).toBe('Invalid login credentials');
    const unknown = await c.auth.signInWithPassword({ email: uniqueEmail('nobody'), password: 'whatever1' });
    expect(unknown.error?.code).toBe('invalid_credentials');
  });

  it('issues ES256 tokens with the claims of hosted Auth, verified by getClaims through the JWKS alone', async () => {
    const u = await confirmedUser(stack, 'claims');
    const requested: string[] = [];
    const recording: typeof fetch = (input, init) => {
      requested.push(new URL(input instanceof Request ? input.url : String(input)).pathname);
      return fetch(input, init);
    };
    // supabase-js caches the JWKS per storage key across clients; a key of its own makes this client fetch it.
    const c = client(stack, stack.publishableKey, {
      global: { fetch: recording },
      auth: { storageKey: `claims-${process.pid}` },
    });
    const { data } = await c.auth.signInWithPassword({ email: u.email, password: u.password });
    const session = data.session!;
    expect(session.token_type).toBe('bearer');
    expect(session.expires_in).toBe(3600);
    expect(session.expires_at).toBe(decode(session.access_token).exp);

    requested.length = 0;
    const { data: verified, error } = await c.auth.getClaims();
    expect(error).toBeNull();
    expect(requested).toEqual(['/auth/v1/.well-known/jwks.json']);
    requested.length = 0;
    expect((await c.auth.getClaims()).error).toBeNull();
    expect(requested).toEqual([]);
    expect(verified!.header).toMatchObject({ alg: 'ES256', typ: 'JWT', kid: stack.stack.ctx.keys.kid });
    const claims = verified!.claims;
    expect(Object.keys(claims).sort()).toEqual(
      [
        'aal',
        'amr',
        'app_metadata',
        'aud',
        'email',
        'exp',
        'iat',
        'is_anonymous',
        'iss',
        'phone',
        'role',
        'session_id',
        'sub',
        'user_metadata',
      ].sort(),
    );
    expect(claims).toMatchObject({
      iss: `${stack.url}/auth/v1`,
      sub: u.id,
      aud: 'authenticated',
      email: u.email,
      phone: '',
      role: 'authenticated',
      aal: 'aal1',
      is_anonymous: false,
      app_metadata: { provider: 'email', providers: ['email'] },
    });
    expect(claims.exp - claims.iat).toBe(3600);
    expect(claims.amr).toEqual([{ method: 'password', timestamp: expect.any(Number) }]);

    // A forged signature is caught locally.
    const [h, p, sig] = session.access_token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...decode(session.access_token), sub: crypto.randomUUID() })).toString('base64url')}.${sig}`;
    expect(p).not.toBe(forged.split('.')[1]);
    const bad = await c.auth.getClaims(forged);
    expect(bad.error?.message).toMatch(/signature/i);
  });

  it('publishes only the public key, cacheable for ten minutes', async () => {
    const r = await fetch(`${stack.url}/auth/v1/.well-known/jwks.json`);
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('public, max-age=600');
    const { keys } = (await r.json()) as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: stack.stack.ctx.keys.kid });
    expect(keys[0]).not.toHaveProperty('d');
    expect(keys[0]).not.toHaveProperty('k');
  });

  it('rotates refresh tokens and revokes the family when a used one comes back after the reuse interval', async () => {
    const { client: c, session } = await signedIn(stack, 'refresh');
    const first = session.refresh_token;
    const rotated = await c.auth.refreshSession();
    expect(rotated.error).toBeNull();
    const second = rotated.data.session!.refresh_token;
    expect(second).not.toBe(first);
    expect(rotated.data.session!.access_token).not.toBe(session.access_token);
    expect(decode(rotated.data.session!.access_token).session_id).toBe(decode(session.access_token).session_id);

    // Within the interval the old token is a lost answer, not an attack: the active token comes back.
    const retry = await client(stack).auth.refreshSession({ refresh_token: first });
    expect(retry.error).toBeNull();
    expect(retry.data.session!.refresh_token).toBe(second);

    await new Promise((r) => setTimeout(r, REUSE_INTERVAL * 1000 + 300));
    const reuse = await client(stack).auth.refreshSession({ refresh_token: first });
    expect(reuse.error?.code).toBe('refresh_token_already_used');
    // The whole family is revoked, including the token that was still active.
    const after = await client(stack).auth.refreshSession({ refresh_token: second });
    expect(after.error?.code).toBe('refresh_token_already_used');
    const unknown = await client(stack).auth.refreshSession({ refresh_token: 'no-such-token' });
    expect(unknown.error?.code).toBe('refresh_token_not_found');
  });

  it('signs out globally (the default), locally, or the other sessions', async () => {
    const u = await confirmedUser(stack, 'logout');
    const sign = async () => {
      const c = client(stack);
      const { data } = await c.auth.signInWithPassword({ email: u.email, password: u.password });
      return { c, refresh: data.session!.refresh_token, access: data.session!.access_token };
    };
    const a = await sign();
    const b = await sign();
    const c3 = await sign();

    expect((await a.c.auth.signOut({ scope: 'others' })).error).toBeNull();
    expect((await client(stack).auth.refreshSession({ refresh_token: b.refresh })).error?.code).toBe(
      'refresh_token_not_found',
    );
    const stillA = await a.c.auth.getUser();
    expect(stillA.error).toBeNull();

    const d = await sign();
    expect((await d.c.auth.signOut({ scope: 'local' })).error).toBeNull();
    expect((await client(stack).auth.getUser(d.access)).error?.name).toBe('AuthSessionMissingError');
    expect((await client(stack).auth.getUser(a.access)).error).toBeNull();

    const r = await fetch(`${stack.url}/auth/v1/logout`, {
      method: 'POST',
      headers: { apikey: stack.publishableKey, authorization: `Bearer ${a.access}` },
    });
    expect(r.status).toBe(204);
    expect((await client(stack).auth.getUser(a.access)).error?.name).toBe('AuthSessionMissingError');
    for (const s of [a, c3]) {
      expect((await client(stack).auth.refreshSession({ refresh_token: s.refresh })).error?.code).toBe(
        'refresh_token_not_found',
      );
    }
  });

  it('updates the user: metadata merged key by key, password changed', async () => {
    const { client: c, email } = await signedIn(stack, 'update');
    expect((await c.auth.updateUser({ data: { theme: 'dark', lang: 'en' } })).error).toBeNull();
    const { data, error } = await c.auth.updateUser({ data: { lang: null, tz: 'UTC' } });
    expect(error).toBeNull();
    expect(data.user!.user_metadata).toEqual({ theme: 'dark', tz: 'UTC' });
    expect((await c.auth.updateUser({ password: 'x' })).error?.code).toBe('weak_password');
    expect((await c.auth.updateUser({ password: 'a brand new password' })).error).toBeNull();
    const fresh = client(stack);
    expect((await fresh.auth.signInWithPassword({ email, password: 'a brand new password' })).error).toBeNull();
    const claims = (await fresh.auth.getClaims()).data!.claims;
    expect(claims.user_metadata).toEqual({ theme: 'dark', tz: 'UTC' });
  });

  it('keeps the admin API to the secret key', async () => {
    const { client: userClient, session } = await signedIn(stack, 'notadmin');
    const asUser = client(stack, stack.publishableKey, {
      global: { headers: { Authorization: `Bearer ${session.access_token}` } },
    });
    const refusedUser = await asUser.auth.admin.listUsers();
    expect(refusedUser.error?.code).toBe('not_admin');
    expect(refusedUser.error?.status).toBe(403);
    const refusedAnon = await client(stack).auth.admin.createUser({ email: uniqueEmail('x'), password: 'secret123' });
    expect(refusedAnon.error?.code).toBe('not_admin');
    expect((await userClient.auth.getUser()).error).toBeNull();

    const admin = client(stack, stack.secretKey).auth.admin;
    const email = uniqueEmail('managed');
    const created = await admin.createUser({ email, password: 'secret123', user_metadata: { a: 1 } });
    expect(created.error).toBeNull();
    const id = created.data.user!.id;
    expect(created.data.user!.email_confirmed_at).toBeUndefined();
    expect((await admin.createUser({ email, password: 'secret123' })).error?.code).toBe('email_exists');

    const listed = await admin.listUsers({ page: 1, perPage: 1000 });
    expect(listed.error).toBeNull();
    expect(listed.data.users.map((x) => x.id)).toContain(id);
    expect('total' in listed.data && listed.data.total).toBeGreaterThanOrEqual(1);

    const updated = await admin.updateUserById(id, { email_confirm: true, app_metadata: { plan: 'pro' } });
    expect(updated.error).toBeNull();
    expect(updated.data.user!.email_confirmed_at).toBeTruthy();
    expect(updated.data.user!.app_metadata).toMatchObject({ provider: 'email', plan: 'pro' });
    expect((await admin.getUserById(id)).data.user?.email).toBe(email);
    expect((await client(stack).auth.signInWithPassword({ email, password: 'secret123' })).error).toBeNull();

    expect((await admin.deleteUser(id)).error).toBeNull();
    expect((await admin.getUserById(id)).error?.code).toBe('user_not_found');
  });

  it('translates API keys at the gateway: secret → service_role, publishable → anon, unknown keys refused', async () => {
    const get = (headers: Record<string, string>) => fetch(`${stack.url}/auth/v1/admin/users`, { headers });
    expect((await get({ apikey: stack.secretKey })).status).toBe(200);
    expect((await get({ apikey: stack.secretKey, authorization: `Bearer ${stack.secretKey}` })).status).toBe(200);
    const anon = await get({ apikey: stack.publishableKey });
    expect(anon.status).toBe(403);
    expect(((await anon.json()) as { code: string }).code).toBe('not_admin');
    // The legacy service_role JWT still works; an unknown key is refused by the gateway, as hosted does.
    expect((await get({ apikey: stack.stack.ctx.keys.serviceRoleJwt })).status).toBe(200);
    const unknown = await get({ apikey: 'sb_secret_not_a_real_key' });
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { message: string }).message).toBe('Invalid API key');
  });

  it('answers bad input with 4xx in GoTrue error shape, never a 500', async () => {
    const post = (path: string, body: string) =>
      fetch(`${stack.url}/auth/v1${path}`, {
        method: 'POST',
        headers: { apikey: stack.publishableKey, 'content-type': 'application/json' },
        body,
      });
    const cases: [string, string, number, string][] = [
      ['/signup', 'not json', 400, 'bad_json'],
      ['/signup', '[1,2]', 400, 'bad_json'],
      ['/signup', JSON.stringify({ email: uniqueEmail('nopw') }), 422, 'validation_failed'],
      ['/signup', JSON.stringify({ email: 'not-an-email', password: 'secret123' }), 400, 'validation_failed'],
      ['/signup', JSON.stringify({ email: 42, password: 'secret123' }), 400, 'validation_failed'],
      ['/signup', JSON.stringify({}), 422, 'anonymous_provider_disabled'],
      ['/token?grant_type=password', JSON.stringify({}), 400, 'validation_failed'],
      ['/token?grant_type=password', '', 400, 'bad_json'],
      ['/token?grant_type=refresh_token', JSON.stringify({}), 400, 'validation_failed'],
      ['/token?grant_type=magic', JSON.stringify({}), 400, 'validation_failed'],
      ['/verify', JSON.stringify({ type: 'signup' }), 400, 'validation_failed'],
    ];
    for (const [path, body, status, code] of cases) {
      const r = await post(path, body);
      const json = (await r.json()) as Record<string, unknown>;
      expect({ path, body, status: r.status, code: json.code }).toEqual({ path, body, status, code });
      expect(json).toMatchObject({ error_code: code, message: expect.any(String), msg: json.message });
      expect(r.headers.get('x-supabase-api-version')).toBe('2024-01-01');
    }
    const weak = await client(stack).auth.signUp({ email: uniqueEmail('weak'), password: '123' });
    expect(weak.error?.code).toBe('weak_password');
    expect((weak.error as { reasons?: string[] }).reasons).toEqual(['length']);

    const badToken = await fetch(`${stack.url}/auth/v1/user`, {
      headers: { apikey: stack.publishableKey, authorization: 'Bearer not.a.jwt' },
    });
    expect(badToken.status).toBe(403);
    expect(((await badToken.json()) as { code: string }).code).toBe('bad_jwt');
    const anonUser = await fetch(`${stack.url}/auth/v1/user`, { headers: { apikey: stack.publishableKey } });
    expect(anonUser.status).toBe(403);
    expect(((await anonUser.json()) as { code: string }).code).toBe('bad_jwt');
    const badId = await fetch(`${stack.url}/auth/v1/admin/users/not-a-uuid`, { headers: { apikey: stack.secretKey } });
    expect(badId.status).toBe(400);
  });

  it('reports health and settings', async () => {
    expect(await stack.stack.health()).toEqual({ auth: true });
    const headers = { apikey: stack.publishableKey };
    const settings = (await (await fetch(`${stack.url}/auth/v1/settings`, { headers })).json()) as Record<
      string,
      unknown
    >;
    expect(settings).toMatchObject({ mailer_autoconfirm: false, external: { email: true, phone: false } });
    expect((await fetch(`${stack.url}/auth/v1/health`, { headers })).status).toBe(200);
  });
});

describe('auth with email confirmation off (autoconfirm)', () => {
  const open = useTestStack({ emailConfirmation: false, factories: [authService()] }, 'auth_open');
  it('signs up with a session, refreshes, signs out, and refuses a second sign-up of the address', async () => {
    const email = uniqueEmail('open');
    const c = client(open);
    const { data, error } = await c.auth.signUp({ email, password: 'a good password' });
    expect(error).toBeNull();
    expect(data.session?.access_token).toBeTruthy();
    expect(data.user!.email_confirmed_at).toBeTruthy();
    expect(mailsTo(open, email)).toHaveLength(0);

    const refreshed = await c.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(refreshed.data.session!.refresh_token).not.toBe(data.session!.refresh_token);
    expect((await c.auth.getUser()).data.user?.email).toBe(email);

    const dup = await client(open).auth.signUp({ email, password: 'a good password' });
    expect(dup.error?.code).toBe('user_already_exists');
    expect(dup.error?.status).toBe(422);

    const access = refreshed.data.session!.access_token;
    expect((await c.auth.signOut()).error).toBeNull();
    expect((await c.auth.getSession()).data.session).toBeNull();
    expect((await client(open).auth.getUser(access)).error?.name).toBe('AuthSessionMissingError');
    const signedInAgain = await client(open).auth.signInWithPassword({ email, password: 'a good password' });
    expect(signedInAgain.error).toBeNull();
  });
});
