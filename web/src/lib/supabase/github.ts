// GitHub: sign-in through Supabase Auth's GitHub provider, and the `github` function (link
// installations after proof, pick a repository for a project).
import {
  AttachedRepository,
  InstallationList,
  InstallUrl,
  LinkedInstallation,
  RepositoryPage,
} from '../../../../functions/_shared/common/contracts/github.ts';
import { describeAuthError } from './auth.ts';
import { loadConfig } from '../config.ts';
import { functionError, sb } from './client.ts';

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

export async function githubInstallUrl(): Promise<string> {
  const { data, error } = await sb().functions.invoke('github/install-url', { method: 'GET' });
  if (error) throw await functionError(error);
  return InstallUrl.parse(data).url;
}

export async function linkGitHubInstallation(installationId: number, providerToken: string) {
  const { data, error } = await sb().functions.invoke('github/installations', {
    method: 'POST',
    body: { installationId, providerToken },
  });
  if (error) throw await functionError(error);
  return LinkedInstallation.parse(data);
}

export async function listGitHubInstallations(): Promise<LinkedInstallation[]> {
  const { data, error } = await sb().functions.invoke('github/installations', { method: 'GET' });
  if (error) throw await functionError(error);
  return InstallationList.parse(data).installations;
}

export async function unlinkGitHubInstallation(installationId: number): Promise<void> {
  const { error } = await sb().functions.invoke(`github/installations/${installationId}`, { method: 'DELETE' });
  if (error) throw await functionError(error);
}

export async function listGitHubRepositories(installationId: number, page: number): Promise<RepositoryPage> {
  const { data, error } = await sb().functions.invoke(
    `github/installations/${installationId}/repositories?page=${page}&perPage=30`,
    { method: 'GET' },
  );
  if (error) throw await functionError(error);
  return RepositoryPage.parse(data);
}

export async function attachGitHubRepository(projectId: string, installationId: number, repositoryId: number) {
  const { data, error } = await sb().functions.invoke(`github/projects/${projectId}/repository`, {
    method: 'PUT',
    body: { installationId, repositoryId },
  });
  if (error) throw await functionError(error);
  return AttachedRepository.parse(data);
}
