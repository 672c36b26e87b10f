// GitHub sign-in through Supabase Auth's GitHub provider (PKCE). Apart from github.ts (the
// `github` function and its zod contracts) because the sign-in screen needs only this: the first
// load stays small (bench/web-bundle-size.ts).
import { describeAuthError } from './auth.ts';
import { loadConfig } from '../config.ts';
import { sb } from './client.ts';

/** Where the browser comes back to after GitHub: this page, without query or hash. */
const here = () => `${location.origin}${location.pathname}`;

/** Whether Auth offers GitHub sign-in (GoTrue's `GET /auth/v1/settings`). */
export async function githubSignInEnabled(): Promise<boolean> {
  try {
    const config = await loadConfig();
    const res = await fetch(`${config.supabaseUrl}/auth/v1/settings`, { headers: { apikey: config.publishableKey } });
    const body = (await res.json()) as { external?: { github?: boolean } };
    return body.external?.github === true;
  } catch {
    return false;
  }
}

/** Leaves for GitHub's authorize page (PKCE); the browser comes back here with `?code=`. */
export async function signInWithGitHub(): Promise<string | null> {
  const { error } = await sb().auth.signInWithOAuth({ provider: 'github', options: { redirectTo: here() } });
  return error ? describeAuthError(error) : null;
}

/**
 * Finishes a sign-in the browser came back from (`?code=` or `?error_description=`): the session,
 * and GitHub's user access token, which Auth hands over only now (never again on refresh).
 */
export async function finishOAuthRedirect(
  params: URLSearchParams,
): Promise<{ providerToken: string | null; error: string | null }> {
  const failed = params.get('error_description');
  if (failed) return { providerToken: null, error: failed };
  const code = params.get('code');
  if (!code) return { providerToken: null, error: null };
  const { data, error } = await sb().auth.exchangeCodeForSession(code);
  if (error) return { providerToken: null, error: describeAuthError(error) };
  return { providerToken: data.session?.provider_token ?? null, error: null };
}
