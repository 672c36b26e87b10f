/**
 * GitHub as Auth's external provider: the authorize URL, the code exchange (the App's OAuth client
 * id and secret; GitHub answers failures with HTTP 200 and `{error}`), and the profile with the
 * primary verified email (required, as GoTrue requires it unless `email_optional`).
 */
import type { AuthContext } from './context.ts';
import { AuthError } from './http.ts';

export interface GitHubProfile {
  id: number;
  login: string;
  name: string | null;
  avatarUrl: string | null;
  email: string;
}

const callbackUrl = (auth: AuthContext) => auth.github!.redirectUri ?? `${auth.apiUrl}/auth/v1/callback`;

/** GitHub's authorize page for this flow: scope `user:email` plus what the app asked for. */
export function githubAuthorizeUrl(auth: AuthContext, state: string, scopes: string | null): string {
  const gh = auth.github!;
  const u = new URL('/login/oauth/authorize', gh.url);
  u.searchParams.set('client_id', gh.clientId);
  u.searchParams.set('redirect_uri', callbackUrl(auth));
  u.searchParams.set('response_type', 'code');
  const scope = ['user:email', ...(scopes ?? '').split(/[\s,]+/).filter(Boolean)];
  u.searchParams.set('scope', [...new Set(scope)].join(' '));
  u.searchParams.set('state', state);
  return u.toString();
}

const providerFailed = (words: string) => new AuthError(500, 'unexpected_failure', words);

export async function githubTokens(
  auth: AuthContext,
  code: string,
): Promise<{ accessToken: string; refreshToken: string | null }> {
  const gh = auth.github!;
  if (!code) throw new AuthError(400, 'bad_oauth_callback', 'OAuth callback with missing authorization code');
  const res = await fetch(new URL('/login/oauth/access_token', gh.url), {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: gh.clientId,
      client_secret: gh.secret,
      code,
      redirect_uri: callbackUrl(auth),
    }).toString(),
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok || typeof body.access_token !== 'string') {
    const why = typeof body.error_description === 'string' ? body.error_description : `HTTP ${res.status}`;
    throw providerFailed(`Unable to exchange external code: ${why}`);
  }
  return {
    accessToken: body.access_token,
    refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : null,
  };
}

async function api<T>(auth: AuthContext, token: string, path: string): Promise<T> {
  const res = await fetch(new URL(path, auth.github!.apiUrl.replace(/\/?$/, '/')), {
    headers: {
      accept: 'application/vnd.github+json',
      authorization: `Bearer ${token}`,
      'user-agent': 'sam-local-auth',
      'x-github-api-version': '2022-11-28',
    },
  });
  if (!res.ok) throw providerFailed(`Error getting user profile from external provider (${res.status})`);
  return (await res.json()) as T;
}

export async function fetchGitHubUser(auth: AuthContext, token: string): Promise<GitHubProfile> {
  const [user, emails] = await Promise.all([
    api<{ id: number; login: string; name: string | null; avatar_url: string | null }>(auth, token, 'user'),
    api<{ email: string; primary: boolean; verified: boolean }[]>(auth, token, 'user/emails'),
  ]);
  const email = emails.find((e) => e.primary && e.verified) ?? emails.find((e) => e.verified);
  if (!email)
    throw new AuthError(500, 'provider_email_needs_verification', 'Error getting user email from external provider');
  return {
    id: user.id,
    login: user.login,
    name: user.name,
    avatarUrl: user.avatar_url,
    email: email.email.toLowerCase(),
  };
}
