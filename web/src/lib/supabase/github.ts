// GitHub through the `github` function: link installations after proof, pick a repository for a
// project (sign-in through Auth's GitHub provider is github-auth.ts).
import {
  AttachedRepository,
  InstallationList,
  InstallUrl,
  LinkedInstallation,
  RepositoryPage,
} from '../../../../functions/_shared/common/contracts/github.ts';
import { functionError, sb } from './client.ts';

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
