/**
 * The fake's REST endpoints — exactly those SAM uses — with the answers and errors GitHub documents
 * (OpenAPI description in `@octokit/openapi`; error texts from GitHub's troubleshooting guide and
 * field observations where the docs are silent).
 */
import { mintToken } from './access-tokens.ts';
import { branchSha, commitsAhead } from './bare-repos.ts';
import { errorBody, notFound, notIntegration, paginate, parseJson, type Reply, validation } from './replies.ts';
import type { Credential } from './rest-auth.ts';
import { JWT_UNDECODABLE } from './rest-auth.ts';
import type { FakeGitHub, FakeToken } from './server.ts';
import { installation, privateUser, pullRequest, repository, type Repo } from './shapes.ts';

interface Call {
  method: string;
  url: URL;
  raw: string;
  cred: Credential;
}

async function createPull(fake: FakeGitHub, repo: Repo, t: FakeToken, raw: string): Promise<Reply> {
  if (t.permissions.pull_requests !== 'write') return notIntegration('pull_requests=write');
  const parsed = parseJson(raw);
  if (!parsed.ok) return errorBody(400, 'Problems parsing JSON');
  const b = parsed.value as { head?: unknown; base?: unknown; title?: unknown; body?: unknown; draft?: unknown };
  const docs = 'https://docs.github.com/rest/pulls/pulls#create-a-pull-request';
  const missing = (['head', 'base', 'title'] as const).filter((k) => typeof b[k] !== 'string' || !b[k]);
  if (missing.length) {
    return validation(
      missing.map((field) => ({ resource: 'PullRequest', field, code: 'missing_field' })),
      docs,
    );
  }
  let head = b.head as string;
  const base = b.base as string;
  const colon = head.indexOf(':');
  if (colon >= 0) {
    if (head.slice(0, colon).toLowerCase() !== repo.owner.login.toLowerCase()) {
      return validation([{ resource: 'PullRequest', field: 'head', code: 'invalid' }], docs);
    }
    head = head.slice(colon + 1);
  }
  const path = fake.repoPath(repo);
  const [headSha, baseSha] = await Promise.all([branchSha(path, head, fake.root), branchSha(path, base, fake.root)]);
  if (!headSha) return validation([{ resource: 'PullRequest', field: 'head', code: 'invalid' }], docs);
  if (!baseSha) return validation([{ resource: 'PullRequest', field: 'base', code: 'invalid' }], docs);
  const open = fake.pulls.find(
    (p) => p.repoId === repo.id && p.state === 'open' && p.headRef === head && p.baseRef === base,
  );
  if (open) {
    const message = `A pull request already exists for ${repo.owner.login}:${head}.`;
    return validation([{ resource: 'PullRequest', code: 'custom', message }], docs);
  }
  if ((await commitsAhead(path, base, head, fake.root)) === 0) {
    return validation(
      [{ resource: 'PullRequest', code: 'custom', message: `No commits between ${base} and ${head}` }],
      docs,
    );
  }
  const now = fake.iso();
  const pull = {
    id: fake.id(),
    number: fake.pulls.filter((p) => p.repoId === repo.id).length + 1,
    repoId: repo.id,
    headRef: head,
    headSha,
    baseRef: base,
    baseSha,
    title: b.title as string,
    body: typeof b.body === 'string' ? b.body : '',
    draft: b.draft === true,
    state: 'open' as const,
    merged: false,
    author: { id: fake.app.id + 1_000_000, login: `${fake.app.slug}[bot]`, type: 'Bot' as const },
    createdAt: now,
    updatedAt: now,
    closedAt: null,
  };
  fake.pulls.push(pull);
  const json = pullRequest(fake.url, fake.url, repo, pull, true);
  return { status: 201, body: json, headers: { location: json.url } };
}

function listPulls(fake: FakeGitHub, repo: Repo, url: URL): Reply {
  const state = url.searchParams.get('state') ?? 'open';
  if (!['open', 'closed', 'all'].includes(state)) {
    return validation([{ resource: 'Search', field: 'state', code: 'invalid' }]);
  }
  const head = url.searchParams.get('head');
  const base = url.searchParams.get('base');
  let pulls = fake.pulls.filter((p) => p.repoId === repo.id && (state === 'all' || p.state === state));
  // `head` filters only as `owner:branch`; a bare branch name is ignored, as on GitHub.
  if (head && head.includes(':')) {
    const [owner, ref] = [head.slice(0, head.indexOf(':')), head.slice(head.indexOf(':') + 1)];
    pulls = pulls.filter((p) => owner.toLowerCase() === repo.owner.login.toLowerCase() && p.headRef === ref);
  }
  if (base) pulls = pulls.filter((p) => p.baseRef === base);
  pulls.sort((a, b) => b.number - a.number);
  const { page, headers } = paginate(fake, url, pulls);
  return { status: 200, body: page.map((p) => pullRequest(fake.url, fake.url, repo, p)), headers };
}

export async function route(fake: FakeGitHub, call: Call): Promise<Reply> {
  const { method, url, cred } = call;
  const path = url.pathname.replace(/\/+$/, '');
  let m: RegExpExecArray | null;

  if ((m = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path)) && method === 'POST') {
    if (cred.kind !== 'app') return errorBody(401, JWT_UNDECODABLE);
    return mintToken(fake, Number(m[1]), call.raw);
  }
  if (path === '/installation/token' && method === 'DELETE') {
    if (cred.kind !== 'installation') return errorBody(401, 'Bad credentials');
    cred.token.revoked = true;
    return { status: 204 };
  }
  if (path === '/installation/repositories' && method === 'GET') {
    if (cred.kind !== 'installation')
      return errorBody(
        cred.kind === 'none' ? 401 : 403,
        cred.kind === 'none' ? 'Requires authentication' : 'Resource not accessible by integration',
      );
    const inst = fake.installations.get(cred.token.installationId)!;
    const repos = fake.installationRepos(inst).filter((r) => fake.tokenReaches(cred.token, r));
    const { page, headers } = paginate(fake, url, repos);
    return {
      status: 200,
      headers,
      body: {
        total_count: repos.length,
        repository_selection: inst.repositories === 'all' && cred.token.repositoryIds === null ? 'all' : 'selected',
        repositories: page.map((r) => repository(fake.url, fake.url, r)),
      },
    };
  }
  if ((m = /^\/repositories\/(\d+)$/.exec(path)) && method === 'GET') {
    const repo = fake.repos.get(Number(m[1]));
    if (!repo) return notFound();
    if (cred.kind === 'installation' ? !fake.tokenReaches(cred.token, repo) : repo.private) return notFound();
    return { status: 200, body: repository(fake.url, fake.url, repo, true) };
  }
  if (path === '/user' || path.startsWith('/user/')) {
    if (cred.kind === 'none') return errorBody(401, 'Requires authentication');
    if (cred.kind !== 'user') return errorBody(403, 'Resource not accessible by integration');
    const user = cred.user;
    if (path === '/user' && method === 'GET') {
      return { status: 200, body: privateUser(fake.url, fake.url, user.account, user.createdAt) };
    }
    if (path === '/user/emails' && method === 'GET') {
      const emails = [{ email: user.email, primary: true, verified: true, visibility: 'private' }];
      const { page, headers } = paginate(fake, url, emails);
      return { status: 200, headers, body: page };
    }
    const visible = [...user.installationIds].map((id) => fake.installations.get(id)!).filter(Boolean);
    if (path === '/user/installations' && method === 'GET') {
      const { page, headers } = paginate(fake, url, visible);
      return {
        status: 200,
        headers,
        body: {
          total_count: visible.length,
          installations: page.map((i) => installation(fake.url, fake.url, fake.app, i)),
        },
      };
    }
    if ((m = /^\/user\/installations\/(\d+)\/repositories$/.exec(path)) && method === 'GET') {
      const inst = visible.find((i) => i.id === Number(m![1]));
      if (!inst) return notFound();
      const repos = fake.installationRepos(inst);
      const { page, headers } = paginate(fake, url, repos);
      return {
        status: 200,
        headers,
        body: {
          total_count: repos.length,
          repository_selection: inst.repositories === 'all' ? 'all' : 'selected',
          repositories: page.map((r) => repository(fake.url, fake.url, r)),
        },
      };
    }
    return notFound();
  }
  if ((m = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(path))) {
    const repo = fake.findRepo(decodeURIComponent(m[1]!), decodeURIComponent(m[2]!));
    if (!repo || cred.kind !== 'installation' || !fake.tokenReaches(cred.token, repo)) {
      return notFound();
    }
    if (method === 'GET') return listPulls(fake, repo, url);
    if (method === 'POST') return createPull(fake, repo, cred.token, call.raw);
  }
  return notFound();
}
