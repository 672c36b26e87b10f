/**
 * The JSON objects the fake GitHub answers with, in the shapes of GitHub's OpenAPI description
 * (`@octokit/openapi`, components `simple-user`, `private-user`, `repository`, `full-repository`,
 * `installation`, `installation-token`, `pull-request`, `pull-request-simple`): every required
 * field present, with values derived from the fake's state. tests/github/fake-contract.test.ts
 * validates them against the description.
 */

export interface Account {
  id: number;
  login: string;
  type: 'User' | 'Organization' | 'Bot';
}

export interface Repo {
  id: number;
  owner: Account;
  name: string;
  private: boolean;
  defaultBranch: string;
  createdAt: string;
}

export interface Installation {
  id: number;
  account: Account;
  /** `all` or the selected repository ids. */
  repositories: 'all' | number[];
  permissions: Record<string, 'read' | 'write'>;
  createdAt: string;
}

export interface Pull {
  id: number;
  number: number;
  repoId: number;
  headRef: string;
  headSha: string;
  baseRef: string;
  baseSha: string;
  title: string;
  body: string;
  draft: boolean;
  state: 'open' | 'closed';
  merged: boolean;
  author: Account;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
}

export function simpleUser(web: string, api: string, a: Account) {
  // Bot logins end in `[bot]`, which URLs carry percent-encoded.
  const u = `${api}/users/${encodeURIComponent(a.login)}`;
  return {
    login: a.login,
    id: a.id,
    node_id: nodeId('U', a.id),
    avatar_url: `${web}/avatars/${a.id}`,
    gravatar_id: '',
    url: u,
    html_url:
      a.type === 'Bot' ? `${web}/apps/${encodeURIComponent(a.login.replace(/\[bot\]$/, ''))}` : `${web}/${a.login}`,
    followers_url: `${u}/followers`,
    following_url: `${u}/following{/other_user}`,
    gists_url: `${u}/gists{/gist_id}`,
    starred_url: `${u}/starred{/owner}{/repo}`,
    subscriptions_url: `${u}/subscriptions`,
    organizations_url: `${u}/orgs`,
    repos_url: `${u}/repos`,
    events_url: `${u}/events{/privacy}`,
    received_events_url: `${u}/received_events`,
    type: a.type,
    user_view_type: 'public',
    site_admin: false,
  };
}

/** `GET /user` for the token's own user: `private-user`. */
export function privateUser(web: string, api: string, a: Account, createdAt: string) {
  return {
    ...simpleUser(web, api, a),
    user_view_type: 'private',
    name: a.login,
    company: null,
    blog: '',
    location: null,
    email: null,
    hireable: null,
    bio: null,
    public_repos: 0,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: createdAt,
    updated_at: createdAt,
    private_gists: 0,
    total_private_repos: 0,
    owned_private_repos: 0,
    disk_usage: 0,
    collaborators: 0,
    two_factor_authentication: true,
  };
}

export function nodeId(prefix: string, id: number): string {
  return `${prefix}_${Buffer.from(String(id)).toString('base64url')}`;
}

/** `repository` (lists, PR heads) — `full` adds the `full-repository` fields of `GET /repositories/{id}`. */
export function repository(web: string, api: string, r: Repo, full = false) {
  const full_name = `${r.owner.login}/${r.name}`;
  const u = `${api}/repos/${full_name}`;
  const urls = Object.fromEntries(
    (
      [
        ['archive_url', '/{archive_format}{/ref}'],
        ['assignees_url', '/assignees{/user}'],
        ['blobs_url', '/git/blobs{/sha}'],
        ['branches_url', '/branches{/branch}'],
        ['collaborators_url', '/collaborators{/collaborator}'],
        ['comments_url', '/comments{/number}'],
        ['commits_url', '/commits{/sha}'],
        ['compare_url', '/compare/{base}...{head}'],
        ['contents_url', '/contents/{+path}'],
        ['contributors_url', '/contributors'],
        ['deployments_url', '/deployments'],
        ['downloads_url', '/downloads'],
        ['events_url', '/events'],
        ['forks_url', '/forks'],
        ['git_commits_url', '/git/commits{/sha}'],
        ['git_refs_url', '/git/refs{/sha}'],
        ['git_tags_url', '/git/tags{/sha}'],
        ['hooks_url', '/hooks'],
        ['issue_comment_url', '/issues/comments{/number}'],
        ['issue_events_url', '/issues/events{/number}'],
        ['issues_url', '/issues{/number}'],
        ['keys_url', '/keys{/key_id}'],
        ['labels_url', '/labels{/name}'],
        ['languages_url', '/languages'],
        ['merges_url', '/merges'],
        ['milestones_url', '/milestones{/number}'],
        ['notifications_url', '/notifications{?since,all,participating}'],
        ['pulls_url', '/pulls{/number}'],
        ['releases_url', '/releases{/id}'],
        ['stargazers_url', '/stargazers'],
        ['statuses_url', '/statuses/{sha}'],
        ['subscribers_url', '/subscribers'],
        ['subscription_url', '/subscription'],
        ['tags_url', '/tags'],
        ['teams_url', '/teams'],
        ['trees_url', '/git/trees{/sha}'],
      ] as const
    ).map(([k, suffix]) => [k, u + suffix]),
  );
  const base = {
    id: r.id,
    node_id: nodeId('R', r.id),
    name: r.name,
    full_name,
    owner: simpleUser(web, api, r.owner),
    private: r.private,
    visibility: r.private ? 'private' : 'public',
    html_url: `${web}/${full_name}`,
    description: null,
    fork: false,
    url: u,
    ...urls,
    git_url: `${web.replace(/^https?/, 'git')}/${full_name}.git`,
    ssh_url: `git@${new URL(web).host}:${full_name}.git`,
    clone_url: `${web}/${full_name}.git`,
    svn_url: `${web}/${full_name}`,
    mirror_url: null,
    homepage: null,
    language: null,
    forks: 0,
    forks_count: 0,
    stargazers_count: 0,
    watchers: 0,
    watchers_count: 0,
    size: 0,
    default_branch: r.defaultBranch,
    open_issues: 0,
    open_issues_count: 0,
    is_template: false,
    topics: [],
    has_issues: true,
    has_projects: true,
    has_wiki: false,
    has_pages: false,
    has_downloads: true,
    has_discussions: false,
    archived: false,
    disabled: false,
    license: null,
    pushed_at: r.createdAt,
    created_at: r.createdAt,
    updated_at: r.createdAt,
    permissions: { admin: false, maintain: false, push: true, triage: true, pull: true },
    allow_forking: true,
    web_commit_signoff_required: false,
  };
  return full ? { ...base, network_count: 0, subscribers_count: 0, temp_clone_token: null } : base;
}

export function installation(
  web: string,
  api: string,
  app: { id: number; slug: string; clientId: string },
  i: Installation,
) {
  return {
    id: i.id,
    client_id: app.clientId,
    account: simpleUser(web, api, i.account),
    repository_selection: i.repositories === 'all' ? 'all' : 'selected',
    access_tokens_url: `${api}/app/installations/${i.id}/access_tokens`,
    repositories_url: `${api}/installation/repositories`,
    html_url: `${web}/settings/installations/${i.id}`,
    app_id: app.id,
    app_slug: app.slug,
    target_id: i.account.id,
    target_type: i.account.type,
    permissions: i.permissions,
    events: ['pull_request', 'push'],
    created_at: i.createdAt,
    updated_at: i.createdAt,
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    suspended_by: null,
    suspended_at: null,
  };
}

/** `pull-request-simple` (lists); `full` adds the `pull-request` fields of a create answer. */
export function pullRequest(web: string, api: string, repo: Repo, p: Pull, full = false) {
  const full_name = `${repo.owner.login}/${repo.name}`;
  const u = `${api}/repos/${full_name}/pulls/${p.number}`;
  const html = `${web}/${full_name}/pull/${p.number}`;
  const issue = `${api}/repos/${full_name}/issues/${p.number}`;
  const end = (ref: string, sha: string) => ({
    label: `${repo.owner.login}:${ref}`,
    ref,
    sha,
    user: simpleUser(web, api, repo.owner),
    repo: repository(web, api, repo),
  });
  const simple = {
    url: u,
    id: p.id,
    node_id: nodeId('PR', p.id),
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: issue,
    commits_url: `${u}/commits`,
    review_comments_url: `${u}/comments`,
    review_comment_url: `${api}/repos/${full_name}/pulls/comments{/number}`,
    comments_url: `${issue}/comments`,
    statuses_url: `${api}/repos/${full_name}/statuses/${p.headSha}`,
    number: p.number,
    state: p.state,
    locked: false,
    title: p.title,
    user: simpleUser(web, api, p.author),
    body: p.body || null,
    labels: [],
    milestone: null,
    active_lock_reason: null,
    created_at: p.createdAt,
    updated_at: p.updatedAt,
    closed_at: p.closedAt,
    merged_at: p.merged ? p.closedAt : null,
    merge_commit_sha: null,
    assignee: null,
    assignees: [],
    requested_reviewers: [],
    requested_teams: [],
    head: end(p.headRef, p.headSha),
    base: end(p.baseRef, p.baseSha),
    _links: {
      self: { href: u },
      html: { href: html },
      issue: { href: issue },
      comments: { href: `${issue}/comments` },
      review_comments: { href: `${u}/comments` },
      review_comment: { href: `${api}/repos/${full_name}/pulls/comments{/number}` },
      commits: { href: `${u}/commits` },
      statuses: { href: `${api}/repos/${full_name}/statuses/${p.headSha}` },
    },
    author_association: 'NONE',
    auto_merge: null,
    draft: p.draft,
  };
  if (!full) return simple;
  return {
    ...simple,
    merged: p.merged,
    mergeable: null,
    rebaseable: null,
    mergeable_state: 'unknown',
    merged_by: null,
    comments: 0,
    review_comments: 0,
    maintainer_can_modify: false,
    commits: 1,
    additions: 0,
    deletions: 0,
    changed_files: 0,
  };
}
