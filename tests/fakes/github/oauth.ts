/**
 * The fake's web side (github.com, not api.github.com): the OAuth authorize page, which approves at
 * once as the browser's signed-in user (`fake.signedIn`), the code exchange
 * `POST /login/oauth/access_token` handing out user access tokens (`ghu_…` with a `ghr_…` refresh
 * token, 8 h), and the App's install page, which installs (or picks the user's existing
 * installation) and sends the browser to the App's Setup URL with `installation_id` and
 * `setup_action`. Texts and codes follow GitHub's OAuth documentation: failed exchanges answer
 * HTTP 200 with `{error, error_description, error_uri}`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Reply } from './replies.ts';
import type { FakeGitHub, FakeUser } from './server.ts';

const CODE_TTL_MS = 10 * 60_000;
const USER_TOKEN_TTL_S = 28_800;
const REFRESH_TTL_S = 15_897_600;

export interface OAuthCode {
  user: FakeUser;
  clientId: string;
  redirectUri: string;
  challenge: string | null;
  expiresAt: number;
}

const redirect = (location: string): Reply => ({ status: 302, headers: { location }, text: '' });
const html = (status: number, text: string): Reply => ({
  status,
  headers: { 'content-type': 'text/html; charset=utf-8' },
  text: `<!doctype html><title>GitHub</title><p>${text.replace(/</g, '&lt;')}</p>`,
});

function withQuery(base: string, params: Record<string, string | null | undefined>): string {
  const u = new URL(base);
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

/** `GET /login/oauth/authorize`: approves as the signed-in user and redirects back with a code. */
function authorize(fake: FakeGitHub, url: URL): Reply {
  const q = url.searchParams;
  if (q.get('client_id') !== fake.app.clientId) return html(404, 'Not Found');
  const callbacks = fake.oauthCallbackUrls;
  const redirectUri = q.get('redirect_uri') ?? callbacks[0];
  if (!redirectUri) return html(400, 'The App has no callback URL.');
  const state = q.get('state');
  if (!callbacks.includes(redirectUri)) {
    if (!callbacks[0]) return html(400, 'The redirect_uri is not associated with this application.');
    return redirect(
      withQuery(callbacks[0], {
        error: 'redirect_uri_mismatch',
        error_description: 'The redirect_uri MUST match the registered callback URL for this application.',
        error_uri:
          'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch',
        state,
      }),
    );
  }
  const method = q.get('code_challenge_method');
  const challenge = q.get('code_challenge');
  if (challenge && method !== 'S256') return html(400, 'code_challenge_method must be S256');
  const user = fake.signedIn;
  if (!user) return html(401, 'Sign in to GitHub to continue.');
  const code = randomBytes(10).toString('hex');
  fake.oauthCodes.set(code, {
    user,
    clientId: fake.app.clientId,
    redirectUri,
    challenge,
    expiresAt: fake.now() + CODE_TTL_MS,
  });
  return redirect(withQuery(redirectUri, { code, state }));
}

function parseForm(raw: string, contentType: string | undefined): Record<string, string> {
  if (contentType?.includes('application/json')) {
    try {
      const v = JSON.parse(raw) as Record<string, unknown>;
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(raw));
}

function oauthAnswer(req: IncomingMessage, body: Record<string, string | number>): Reply {
  if ((req.headers.accept ?? '').includes('application/json')) {
    return { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, body };
  }
  const form = new URLSearchParams(Object.entries(body).map(([k, v]) => [k, String(v)]));
  return { status: 200, headers: { 'content-type': 'application/x-www-form-urlencoded' }, text: form.toString() };
}

const DOCS = 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors';
const failure = (req: IncomingMessage, error: string, description: string) =>
  oauthAnswer(req, { error, error_description: description, error_uri: `${DOCS}/#${error.replace(/_/g, '-')}` });

function issueUserToken(fake: FakeGitHub, user: FakeUser) {
  const token = `ghu_${randomBytes(27).toString('base64url').replace(/[-_]/g, 'u')}`;
  const refresh = `ghr_${randomBytes(54).toString('base64url').replace(/[-_]/g, 'r')}`;
  fake.users.set(token, user);
  fake.refreshTokens.set(refresh, user);
  return {
    access_token: token,
    expires_in: USER_TOKEN_TTL_S,
    refresh_token: refresh,
    refresh_token_expires_in: REFRESH_TTL_S,
    scope: '',
    token_type: 'bearer',
  };
}

function sameSecret(a: string | undefined, b: string): boolean {
  const x = Buffer.from(a ?? '');
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** `POST /login/oauth/access_token`: a code (or refresh token) for a user access token. */
function exchange(fake: FakeGitHub, req: IncomingMessage, raw: string): Reply {
  const f = parseForm(raw, req.headers['content-type']);
  if (f.client_id !== fake.app.clientId || !sameSecret(f.client_secret, fake.app.clientSecret)) {
    return failure(req, 'incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
  }
  if (f.grant_type === 'refresh_token') {
    const user = f.refresh_token ? fake.refreshTokens.get(f.refresh_token) : undefined;
    if (!user) return failure(req, 'bad_refresh_token', 'The refresh token passed is incorrect or expired.');
    fake.refreshTokens.delete(f.refresh_token!);
    return oauthAnswer(req, issueUserToken(fake, user));
  }
  const code = f.code ? fake.oauthCodes.get(f.code) : undefined;
  if (!code || code.expiresAt <= fake.now()) {
    return failure(req, 'bad_verification_code', 'The code passed is incorrect or expired.');
  }
  fake.oauthCodes.delete(f.code!);
  if (f.redirect_uri && f.redirect_uri !== code.redirectUri) {
    return failure(
      req,
      'redirect_uri_mismatch',
      'The redirect_uri MUST match the registered callback URL for this application.',
    );
  }
  if (code.challenge) {
    const expected = createHash('sha256')
      .update(f.code_verifier ?? '')
      .digest('base64url');
    if (!sameSecret(expected, code.challenge)) {
      return failure(req, 'bad_verification_code', 'The code passed is incorrect or expired.');
    }
  }
  return oauthAnswer(req, issueUserToken(fake, code.user));
}

/**
 * `GET /apps/{slug}/installations/new`: the signed-in user installs the App on their own account
 * (or keeps the installation they already see) and is sent to the Setup URL.
 */
function install(fake: FakeGitHub, url: URL): Reply {
  const user = fake.signedIn;
  if (!user) return html(401, 'Sign in to GitHub to continue.');
  if (!fake.setupUrl) return html(400, 'The App has no Setup URL.');
  let id = fake.installTarget?.id ?? [...user.installationIds][0];
  let action = 'update';
  if (id === undefined) {
    const inst = fake.addInstallation(user.account);
    fake.grant(user, inst);
    id = inst.id;
    action = 'install';
  } else if (!user.installationIds.has(id)) {
    fake.grant(user, fake.installations.get(id)!);
    action = 'install';
  }
  return redirect(
    withQuery(fake.setupUrl, {
      installation_id: String(id),
      setup_action: action,
      state: url.searchParams.get('state'),
    }),
  );
}

/** The web pages and OAuth endpoints; undefined when the path is not one of them. */
export function webRoute(fake: FakeGitHub, req: IncomingMessage, url: URL, raw: string): Reply | undefined {
  const path = url.pathname.replace(/\/+$/, '');
  if (path === '/login/oauth/authorize' && req.method === 'GET') return authorize(fake, url);
  if (path === '/login/oauth/access_token' && req.method === 'POST') return exchange(fake, req, raw);
  const m = /^\/apps\/([^/]+)\/installations\/(new|select_target)$/.exec(path);
  if (m && req.method === 'GET') return m[1] === fake.app.slug ? install(fake, url) : html(404, 'Not Found');
  return undefined;
}
