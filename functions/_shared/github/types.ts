/** The few fields SAM reads from GitHub's installation and repository objects. */

export interface GitHubAccount {
  id: number;
  login: string;
  type: string;
}

export interface GitHubInstallation {
  id: number;
  account: GitHubAccount;
  repositorySelection: 'all' | 'selected';
  suspended: boolean;
}

export interface GitHubRepository {
  id: number;
  name: string;
  fullName: string;
  owner: GitHubAccount;
  private: boolean;
  defaultBranch: string;
  cloneUrl: string;
  htmlUrl: string;
}

export interface WireAccount {
  id: number;
  login?: string;
  slug?: string;
  type?: string;
}

export interface WireInstallation {
  id: number;
  account: WireAccount | null;
  repository_selection: 'all' | 'selected';
  suspended_at: string | null;
}

export interface WireRepository {
  id: number;
  name: string;
  full_name: string;
  owner: WireAccount;
  private: boolean;
  default_branch: string;
  clone_url: string;
  html_url: string;
}

function toAccount(a: WireAccount | null): GitHubAccount {
  return { id: a?.id ?? 0, login: a?.login ?? a?.slug ?? '', type: a?.type ?? 'Enterprise' };
}

export function toInstallation(i: WireInstallation): GitHubInstallation {
  return {
    id: i.id,
    account: toAccount(i.account),
    repositorySelection: i.repository_selection,
    suspended: i.suspended_at !== null && i.suspended_at !== undefined,
  };
}

export function toRepository(r: WireRepository): GitHubRepository {
  return {
    id: r.id,
    name: r.name,
    fullName: r.full_name,
    owner: toAccount(r.owner),
    private: r.private,
    defaultBranch: r.default_branch,
    cloneUrl: r.clone_url,
    htmlUrl: r.html_url,
  };
}
