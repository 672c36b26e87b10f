import { createSignal } from 'solid-js';
import { createStore } from 'solid-js/store';
import * as api from '../lib/supabase/index.ts';
import type { LinkedInstallation, RepositoryPage } from '../../../functions/_shared/common/contracts/github.ts';

/**
 * GitHub in the web app: the user's linked installations, the user access token Auth handed over at
 * a GitHub sign-in (kept for this tab only: it is the proof the `github` function asks for when
 * linking), an installation the App's Setup URL brought back (until it is linked), and the open
 * repository picker's page.
 */
const TOKEN_KEY = 'sam.github.providerToken';
const PENDING_KEY = 'sam.github.pendingInstallation';

interface GitHubState {
  installations: LinkedInstallation[];
  loaded: boolean;
  error: string | null;
  notice: string | null;
}

const [github, setState] = createStore<GitHubState>({ installations: [], loaded: false, error: null, notice: null });
const [repoPage, setRepoPage] = createSignal<RepositoryPage | null>(null);
const [repoError, setRepoError] = createSignal<string | null>(null);

export { github, repoPage, repoError };

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
  const { providerToken, error } = await api.finishOAuthRedirect(params);
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
export const githubSignInEnabled = (): Promise<boolean> => (available ??= api.githubSignInEnabled());

export async function signInWithGitHub(): Promise<string | null> {
  return api.signInWithGitHub();
}

export async function loadInstallations(): Promise<void> {
  if (!(await githubSignInEnabled())) {
    setState({ installations: [], loaded: true, error: null });
    return;
  }
  try {
    setState({ installations: await api.listGitHubInstallations(), loaded: true, error: null });
  } catch (e) {
    setState({ loaded: true, error: e instanceof Error ? e.message : String(e) });
  }
}

/** Links the installation the Setup URL named, proven with this tab's GitHub token. */
export async function linkPendingInstallation(): Promise<void> {
  const id = pendingInstallation();
  const token = storage()?.getItem(TOKEN_KEY);
  if (!id || !token) return;
  try {
    const linked = await api.linkGitHubInstallation(id, token);
    storage()?.removeItem(PENDING_KEY);
    setState({ notice: `Linked the GitHub installation on ${linked.accountLogin}.`, error: null });
    await loadInstallations();
  } catch (e) {
    storage()?.removeItem(PENDING_KEY);
    setState({ error: e instanceof Error ? e.message : String(e), notice: null });
  }
}

/** Leaves for the App's install page on GitHub; it comes back through the Setup URL. */
export async function installGitHubApp(): Promise<void> {
  try {
    location.assign(await api.githubInstallUrl());
  } catch (e) {
    setState({ error: e instanceof Error ? e.message : String(e) });
  }
}

export async function unlinkInstallation(id: number): Promise<void> {
  try {
    await api.unlinkGitHubInstallation(id);
    await loadInstallations();
  } catch (e) {
    setState({ error: e instanceof Error ? e.message : String(e) });
  }
}

export async function loadRepositoryPage(installationId: number, page: number): Promise<void> {
  setRepoError(null);
  try {
    setRepoPage(await api.listGitHubRepositories(installationId, page));
  } catch (e) {
    setRepoPage(null);
    setRepoError(e instanceof Error ? e.message : String(e));
  }
}

export const attachRepository = api.attachGitHubRepository;

export function resetGitHub(): void {
  storage()?.removeItem(TOKEN_KEY);
  setState({ installations: [], loaded: false, error: null, notice: null });
  setRepoPage(null);
}
