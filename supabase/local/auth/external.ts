/**
 * Sign-in with an external provider, as GoTrue does it, for GitHub (the one provider SAM uses):
 *
 *   GET /authorize?provider=github&redirect_to=…[&code_challenge=…&code_challenge_method=s256]
 *     → a flow (the `state` GitHub carries), 302 to GitHub's authorize page (scope `user:email`);
 *       with `skip_http_redirect=true` the URL comes back as JSON instead.
 *   GET /callback?code&state (GitHub sends the browser here)
 *     → code exchanged at GitHub, `/user` + `/user/emails` read, the user found by their GitHub
 *       identity (else by verified email, else created), then
 *       PKCE: 302 `redirect_to?code=<auth code>` — `POST /token?grant_type=pkce` answers the session
 *             with `provider_token` / `provider_refresh_token`, once;
 *       implicit: 302 `redirect_to#access_token=…&provider_token=…`.
 *     Failures come back to `redirect_to` as `error`, `error_code`, `error_description`.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AuthContext, Handler } from './context.ts';
import { AuthError, badRequest, discardBody, notFound, sendJson } from './http.ts';
import { type CodeChallenge } from './pkce.ts';
import { fetchGitHubUser, type GitHubProfile, githubAuthorizeUrl, githubTokens } from './github.ts';
import { createSession, sessionJson } from './sessions.ts';
import type { Db, UserRow } from './users.ts';

/** GoTrue keeps a flow for at least 5 minutes. */
const FLOW_TTL_MS = 10 * 60_000;

interface PendingFlow {
  redirectTo: string;
  challenge: CodeChallenge | null;
  expiresAt: number;
}

/** Flows between /authorize and /callback, by their `state`. */
const pending = new Map<string, PendingFlow>();

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location, 'x-supabase-api-version': '2024-01-01' });
  res.end();
}

/** `redirect_to` when it is an absolute http(s) URL, else the site URL. */
function target(requested: string | null, auth: AuthContext): string {
  try {
    const u = new URL(requested ?? '');
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.toString();
  } catch {
    // not a URL
  }
  return auth.siteUrl;
}

export const authorize: Handler = async (req, res, url, auth) => {
  await discardBody(req);
  const provider = url.searchParams.get('provider');
  if (!provider) throw badRequest('validation_failed', 'Unsupported provider: provider is required');
  if (provider !== 'github' || !auth.github) {
    throw badRequest('validation_failed', `Unsupported provider: Provider ${provider} could not be found`);
  }
  const challenge = url.searchParams.get('code_challenge');
  const method = url.searchParams.get('code_challenge_method')?.toLowerCase();
  if (!!challenge !== !!method || (method && method !== 's256' && method !== 'plain')) {
    throw badRequest(
      'validation_failed',
      'PKCE flow requires code_challenge and code_challenge_method (s256 or plain)',
    );
  }
  const state = randomUUID();
  for (const [k, f] of pending) if (f.expiresAt < Date.now()) pending.delete(k);
  pending.set(state, {
    redirectTo: target(url.searchParams.get('redirect_to'), auth),
    challenge: challenge ? { challenge, method: method as CodeChallenge['method'] } : null,
    expiresAt: Date.now() + FLOW_TTL_MS,
  });
  const location = githubAuthorizeUrl(auth, state, url.searchParams.get('scopes'));
  if (url.searchParams.get('skip_http_redirect') === 'true') return sendJson(res, 200, { url: location });
  redirect(res, location);
};

function withError(to: string, implicit: boolean, code: string, description: string): string {
  const params = new URLSearchParams({ error: 'server_error', error_code: code, error_description: description });
  const u = new URL(to);
  if (implicit) return `${to.split('#')[0]}#${params.toString()}`;
  for (const [k, v] of params) u.searchParams.set(k, v);
  return u.toString();
}

export const callback: Handler = async (req, res, url, auth) => {
  await discardBody(req);
  const state = url.searchParams.get('state') ?? '';
  const flow = pending.get(state);
  pending.delete(state);
  if (!state) throw badRequest('bad_oauth_state', 'OAuth state parameter missing');
  if (!flow || flow.expiresAt < Date.now()) throw notFound('flow_state_not_found', 'OAuth state is invalid or expired');
  const implicit = flow.challenge === null;
  const providerError = url.searchParams.get('error');
  if (providerError) {
    const words = url.searchParams.get('error_description') ?? providerError;
    return redirect(res, withError(flow.redirectTo, implicit, providerError, words));
  }
  try {
    const tokens = await githubTokens(auth, url.searchParams.get('code') ?? '');
    const profile = await fetchGitHubUser(auth, tokens.accessToken);
    const outcome = await auth.sql.begin(async (tx) => {
      const user = await userForGitHub(tx, profile, auth);
      if (flow.challenge) {
        const code = randomUUID();
        await tx`
          insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
            provider_access_token, provider_refresh_token, created_at, updated_at, authentication_method,
            auth_code_issued_at)
          values (${randomUUID()}, ${user.id}, ${code}, ${flow.challenge.method}, ${flow.challenge.challenge},
            'github', ${tokens.accessToken}, ${tokens.refreshToken}, now(), now(), 'oauth', now())`;
        const to = new URL(flow.redirectTo);
        to.searchParams.set('code', code);
        return to.toString();
      }
      const s = await createSession(tx, user, 'oauth');
      const session = await sessionJson(tx, auth.tokens, s.user, s.sessionId, s.refreshToken);
      const fragment = new URLSearchParams({
        access_token: session.access_token,
        expires_at: String(session.expires_at),
        expires_in: String(session.expires_in),
        provider_token: tokens.accessToken,
        ...(tokens.refreshToken ? { provider_refresh_token: tokens.refreshToken } : {}),
        refresh_token: session.refresh_token,
        token_type: 'bearer',
      });
      return `${flow.redirectTo.split('#')[0]}#${fragment.toString()}`;
    });
    redirect(res, outcome);
  } catch (e) {
    const words = e instanceof AuthError ? e.message : 'Unexpected failure talking to GitHub';
    const code = e instanceof AuthError ? e.code : 'unexpected_failure';
    if (!(e instanceof AuthError)) console.error('[auth] github callback', (e as Error).message);
    redirect(res, withError(flow.redirectTo, implicit, code, words));
  }
};

/** The user with this GitHub identity; else the user with its verified email, linked; else a new one. */
async function userForGitHub(db: Db, p: GitHubProfile, auth: AuthContext): Promise<UserRow> {
  const identityData = {
    iss: auth.github!.apiUrl,
    sub: String(p.id),
    provider_id: String(p.id),
    user_name: p.login,
    preferred_username: p.login,
    full_name: p.name ?? p.login,
    name: p.name ?? p.login,
    avatar_url: p.avatarUrl,
    email: p.email,
    email_verified: true,
    phone_verified: false,
  };
  const [known] = await db<{ user_id: string }[]>`
    select user_id from auth.identities where provider = 'github' and provider_id = ${String(p.id)}`;
  if (known) {
    await db`
      update auth.identities set identity_data = ${db.json(identityData as never)}, updated_at = now()
      where provider = 'github' and provider_id = ${String(p.id)}`;
    const [u] = await db<UserRow[]>`select * from auth.users where id = ${known.user_id}`;
    return u!;
  }
  let [user] = await db<UserRow[]>`select * from auth.users where email = ${p.email} and deleted_at is null`;
  if (user) {
    [user] = await db<UserRow[]>`
      update auth.users
      set raw_app_meta_data = jsonb_set(coalesce(raw_app_meta_data, '{}'), '{providers}',
            (select coalesce(jsonb_agg(distinct x), '[]') from jsonb_array_elements_text(
              coalesce(raw_app_meta_data -> 'providers', '[]') || '["github"]') x)),
          email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now()
      where id = ${user.id} returning *`;
  } else {
    [user] = await db<UserRow[]>`
      insert into auth.users (instance_id, id, aud, role, email, email_confirmed_at, raw_app_meta_data,
        raw_user_meta_data, is_super_admin, created_at, updated_at, is_anonymous)
      values ('00000000-0000-0000-0000-000000000000', ${randomUUID()}, 'authenticated', 'authenticated',
        ${p.email}, now(), ${db.json({ provider: 'github', providers: ['github'] } as never)},
        ${db.json(identityData as never)}, false, now(), now(), false)
      returning *`;
  }
  if (user!.banned_until && user!.banned_until > new Date()) throw badRequest('user_banned', 'User is banned');
  await db`
    insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
    values (${String(p.id)}, ${user!.id}, ${db.json(identityData as never)}, 'github', now(), now())`;
  return user!;
}
