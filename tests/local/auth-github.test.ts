/**
 * "Sign in with GitHub" against the local Auth stand-in and the fake GitHub, driven by the
 * unmodified supabase-js (`signInWithOAuth` with the PKCE flow): the browser's hops are followed by
 * hand, so each redirect is checked as GoTrue and GitHub make it.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { authService } from '../../supabase/local/auth/index.ts';
import { FakeGitHub, type FakeUser } from '../fakes/github/server.ts';
import { startTestStack } from '../helpers/local-stack.ts';

let fake: FakeGitHub;
let stack: Awaited<ReturnType<typeof startTestStack>>;
let alice: FakeUser;
const APP = 'http://127.0.0.1:9/app/';

beforeAll(async () => {
  fake = await FakeGitHub.start();
  alice = fake.addUser('alice');
  stack = await startTestStack(
    {
      factories: [authService()],
      emailConfirmation: false,
      authGitHub: { clientId: fake.app.clientId, secret: fake.app.clientSecret, url: fake.url, apiUrl: fake.url },
    },
    'auth-github',
  );
  fake.oauthCallbackUrls = [`${stack.url}/auth/v1/callback`];
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await fake?.close();
});

function client(): SupabaseClient {
  return createClient(stack.url, stack.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false, flowType: 'pkce' },
    realtime: { transport: WebSocket as never },
  });
}

/** Follows redirects as a browser would, until one leaves the stack and the fake (the app's URL). */
async function browse(start: string): Promise<URL> {
  let at = start;
  for (let hops = 0; hops < 6; hops++) {
    if (!at.startsWith(stack.url) && !at.startsWith(fake.url)) return new URL(at);
    const res = await fetch(at, { redirect: 'manual' });
    const next = res.headers.get('location');
    if (res.status !== 302 || !next) throw new Error(`${at} answered ${res.status}: ${await res.text()}`);
    at = new URL(next, at).toString();
  }
  throw new Error('too many redirects');
}

async function signInWithGitHub(c: SupabaseClient): Promise<URL> {
  const { data, error } = await c.auth.signInWithOAuth({
    provider: 'github',
    options: { redirectTo: APP, skipBrowserRedirect: true },
  });
  expect(error).toBeNull();
  return browse(data.url!);
}

describe('Sign in with GitHub (PKCE)', () => {
  it('goes to GitHub with the registered callback, comes back with a code, and the session carries the provider token once', async () => {
    fake.signedIn = alice;
    const c = client();
    const { data } = await c.auth.signInWithOAuth({
      provider: 'github',
      options: { redirectTo: APP, skipBrowserRedirect: true },
    });
    const first = await fetch(data.url!, { redirect: 'manual' });
    expect(first.status).toBe(302);
    const toGitHub = new URL(first.headers.get('location')!);
    expect(toGitHub.origin + toGitHub.pathname).toBe(`${fake.url}/login/oauth/authorize`);
    expect(toGitHub.searchParams.get('client_id')).toBe(fake.app.clientId);
    expect(toGitHub.searchParams.get('redirect_uri')).toBe(`${stack.url}/auth/v1/callback`);
    expect(toGitHub.searchParams.get('scope')).toBe('user:email');
    expect(toGitHub.searchParams.get('state')).toBeTruthy();

    const back = await browse(toGitHub.toString());
    expect(back.origin + back.pathname).toBe(APP.replace(/\/$/, '/'));
    const code = back.searchParams.get('code')!;
    expect(back.searchParams.get('error_description')).toBeNull();
    expect(code).toBeTruthy();
    expect(back.toString()).not.toContain('ghu_');

    const { data: s, error } = await c.auth.exchangeCodeForSession(code);
    expect(error).toBeNull();
    expect(s.session!.user.email).toBe(alice.email);
    expect(s.session!.provider_token).toMatch(/^ghu_/);
    expect(s.session!.provider_refresh_token).toMatch(/^ghr_/);
    const identity = s.user!.identities!.find((i) => i.provider === 'github')!;
    expect(identity.id).toBe(String(alice.account.id));
    expect(identity.identity_data).toMatchObject({ user_name: 'alice', email: alice.email });
    expect(s.user!.app_metadata).toMatchObject({ provider: 'github', providers: ['github'] });
    // The provider token is GitHub's own: it works there.
    const me = await fetch(`${fake.url}/user`, {
      headers: { authorization: `Bearer ${s.session!.provider_token}`, 'user-agent': 't' },
    });
    expect(((await me.json()) as { login: string }).login).toBe('alice');

    // A refreshed session no longer has it (GoTrue keeps no provider tokens).
    const refreshed = await c.auth.refreshSession();
    expect(refreshed.error).toBeNull();
    expect(refreshed.data.session!.provider_token ?? null).toBeNull();
  });

  it('signs the same GitHub user in to the same account next time; a wrong verifier gets no session', async () => {
    fake.signedIn = alice;
    const c1 = client();
    const first = await c1.auth.exchangeCodeForSession((await signInWithGitHub(c1)).searchParams.get('code')!);
    const c2 = client();
    const second = await c2.auth.exchangeCodeForSession((await signInWithGitHub(c2)).searchParams.get('code')!);
    expect(second.data.user!.id).toBe(first.data.user!.id);

    const c3 = client();
    const code = (await signInWithGitHub(c3)).searchParams.get('code')!;
    const stolen = await client().auth.exchangeCodeForSession(code);
    expect(stolen.error).not.toBeNull();
    const r = await fetch(`${stack.url}/auth/v1/token?grant_type=pkce`, {
      method: 'POST',
      headers: { apikey: stack.publishableKey, 'content-type': 'application/json' },
      body: JSON.stringify({ auth_code: code, code_verifier: 'x'.repeat(43) }),
    });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { code: string }).code).toBe('bad_code_verifier');
  });

  it('links GitHub to an existing account with the same verified email', async () => {
    const bob = fake.addUser('bob');
    const admin = createClient(stack.url, stack.secretKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: WebSocket as never },
    });
    const created = await admin.auth.admin.createUser({ email: bob.email, password: 'pw-123456', email_confirm: true });
    fake.signedIn = bob;
    const c = client();
    const { data } = await c.auth.exchangeCodeForSession((await signInWithGitHub(c)).searchParams.get('code')!);
    expect(data.user!.id).toBe(created.data.user!.id);
    expect(data.user!.identities!.map((i) => i.provider).sort()).toEqual(['email', 'github']);
  });

  it('refuses a callback without or with an unknown state, and an unknown provider', async () => {
    const none = await fetch(`${stack.url}/auth/v1/callback?code=x`, { headers: { apikey: stack.publishableKey } });
    expect(none.status).toBe(400);
    const unknown = await fetch(`${stack.url}/auth/v1/callback?code=x&state=3f1c9a52-0000-4000-8000-000000000000`, {
      headers: { apikey: stack.publishableKey },
    });
    expect(unknown.status).toBe(404);
    const gitlab = await fetch(`${stack.url}/auth/v1/authorize?provider=gitlab`, {
      headers: { apikey: stack.publishableKey },
      redirect: 'manual',
    });
    expect(gitlab.status).toBe(400);
  });

  it("sends GitHub's refusal (the user denied access) back to the app in words, with no code", async () => {
    fake.signedIn = alice;
    const c = client();
    const { data } = await c.auth.signInWithOAuth({
      provider: 'github',
      options: { redirectTo: APP, skipBrowserRedirect: true },
    });
    const toGitHub = new URL((await fetch(data.url!, { redirect: 'manual' })).headers.get('location')!);
    // The user denies access: GitHub sends them back with error=access_denied.
    const cb = new URL(`${stack.url}/auth/v1/callback`);
    cb.searchParams.set('state', toGitHub.searchParams.get('state')!);
    cb.searchParams.set('error', 'access_denied');
    cb.searchParams.set('error_description', 'The user has denied your application access.');
    const back = await browse(cb.toString());
    expect(back.searchParams.get('error_code')).toBe('access_denied');
    expect(back.searchParams.get('error_description')).toBe('The user has denied your application access.');
    expect(back.searchParams.get('code')).toBeNull();
  });
});
