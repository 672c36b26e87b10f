/**
 * GitHub sign-in in the web app, the part the sign-in screen needs (kept apart from github.ts so
 * the first load stays small): the user access token Auth hands over at a GitHub sign-in (kept
 * for this tab only: it is the proof the `github` function asks for when linking) and an
 * installation the App's Setup URL brought back (until it is linked).
 */
import {
  finishOAuthRedirect,
  githubSignInEnabled as remoteGitHubSignInEnabled,
  signInWithGitHub as startGitHubSignIn,
} from '../lib/supabase/github-auth.ts';

const TOKEN_KEY = 'sam.github.providerToken';
const PENDING_KEY = 'sam.github.pendingInstallation';

const storage = () => {
  try {
    return window.sessionStorage;
  } catch {
    return undefined;
  }
};

export const pendingInstallation = (): number | null => Number(storage()?.getItem(PENDING_KEY)) || null;
export const hasGitHubToken = (): boolean => !!storage()?.getItem(TOKEN_KEY);

/**
 * At start-up, before the session is read: takes what GitHub sent the browser back with — a
 * sign-in's `?code=` (exchanged for the session and GitHub's token) or the Setup URL's
 * `?installation_id=` — and clears it from the address bar. Returns a sign-in failure in words.
 */
export async function captureGitHubRedirect(): Promise<string | null> {
  const params = new URLSearchParams(location.search);
  if (![...params.keys()].some((k) => ['code', 'error_description', 'installation_id'].includes(k))) return null;
  let hash = location.hash;
  const installation = Number(params.get('installation_id'));
  if (installation > 0) {
    storage()?.setItem(PENDING_KEY, String(installation));
    hash = '#/settings';
  }
  const { providerToken, error } = await finishOAuthRedirect(params);
  if (providerToken) storage()?.setItem(TOKEN_KEY, providerToken);
  if (pendingInstallation()) hash = '#/settings';
  history.replaceState(null, '', `${location.pathname}${hash}`);
  // replaceState fires no hashchange: tell the router where we are now.
  window.dispatchEvent(new HashChangeEvent('hashchange'));
  return error;
}

let available: Promise<boolean> | undefined;
/**
 * Whether this SAM offers GitHub (Auth's GitHub provider is the operator's GitHub App): asked
 * once, so pages without GitHub never call the `github` function.
 */
export const githubSignInEnabled = (): Promise<boolean> => (available ??= remoteGitHubSignInEnabled());

export async function signInWithGitHub(): Promise<string | null> {
  return startGitHubSignIn();
}

export const gitHubToken = (): string | null => storage()?.getItem(TOKEN_KEY) ?? null;
export const forgetGitHubToken = (): void => storage()?.removeItem(TOKEN_KEY);
export const settlePendingInstallation = (): void => storage()?.removeItem(PENDING_KEY);
