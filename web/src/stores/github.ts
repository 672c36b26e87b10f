import { createSignal } from 'solid-js';
import { createStore } from 'solid-js/store';
import * as api from '../lib/supabase/index.ts';
import {
  forgetGitHubToken,
  githubSignInEnabled,
  gitHubToken,
  pendingInstallation,
  settlePendingInstallation,
} from './github-auth.ts';
import type { LinkedInstallation, RepositoryPage } from '../../../functions/_shared/common/contracts/github.ts';

/**
 * GitHub in the web app: the user's linked installations, the user access token Auth handed over at
 * a GitHub sign-in (kept for this tab only: it is the proof the `github` function asks for when
 * linking), an installation the App's Setup URL brought back (until it is linked), and the open
 * repository picker's page.
 */
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
export { githubSignInEnabled, hasGitHubToken, pendingInstallation, signInWithGitHub } from './github-auth.ts';

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
  const token = gitHubToken();
  if (!id || !token) return;
  try {
    const linked = await api.linkGitHubInstallation(id, token);
    settlePendingInstallation();
    setState({ notice: `Linked the GitHub installation on ${linked.accountLogin}.`, error: null });
    await loadInstallations();
  } catch (e) {
    settlePendingInstallation();
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
  forgetGitHubToken();
  setState({ installations: [], loaded: false, error: null, notice: null });
  setRepoPage(null);
}
