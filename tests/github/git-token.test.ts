/**
 * Tokens per task, end to end on one host: the real `vm-agent` function (in-process, real test
 * database) mints GitHub installation tokens through the fake GitHub for a workspace's own task
 * repository, and the machine's git gets them only through the credential helper (socket →
 * helper → git). Clone and push of the task branch go through the fake's real `git http-backend`;
 * the token expires mid-task and the push still works with a fresh one; a workspace asking for
 * another repository is refused; no token shows in argv, environments, `.git/config`,
 * `~/.git-credentials`, logs or what the workspace reports.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PollCommandsResponse,
  type CreateWorkspacePayload,
} from '../../functions/_shared/common/contracts/vm-agent.ts';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { GitHubApp } from '../../functions/_shared/github/app.ts';
import { TaskTokens } from '../../functions/_shared/github/task-tokens.ts';
import { createVmAgentApp } from '../../functions/vm-agent/app.ts';
import { completeWork } from '../../vm-agent/git/complete.ts';
import { startCredentialHelper, type GitCredentialHelper } from '../../vm-agent/git/credential-server.ts';
import { git } from '../../vm-agent/git/run-git.ts';
import { checkoutTaskBranch, cloneRepository } from '../../vm-agent/git/workspace.ts';
import { ControlPlaneClient } from '../../vm-agent/node/control-plane.ts';
import { FakeGitHub } from '../fakes/github/server.ts';
import type { Installation, Repo } from '../fakes/github/shapes.ts';
import { createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';
import { ProcessSnapshots } from './process-snapshots.ts';

const HTTP_ONLY = { protocols: ['http' as const], localRoots: [] };
const START = Date.parse('2026-12-02T08:00:00Z');
let now = START;

// The machine's HOME for this file (its own process): where ~/.git-credentials would land.
const home = mkdtempSync(join(tmpdir(), 'sam-git-token-home-'));
process.env.HOME = home;

const db = useTestDatabase('github_git_token');
const secret = randomBytes(32).toString('base64url');
let sql: Sql;
let fake: FakeGitHub;
let app: ReturnType<typeof createVmAgentApp>;
let client: ControlPlaneClient;
let site: Repo;
let other: Repo;
let inst: Installation;
const snapshots = new ProcessSnapshots();

beforeAll(async () => {
  fake = await FakeGitHub.start({ now: () => now });
  const org = fake.addAccount('acme', 'Organization');
  site = fake.addRepository(org, 'site');
  other = fake.addRepository(org, 'other');
  inst = fake.addInstallation(org);
  const github = new GitHubApp({
    appId: fake.app.clientId,
    privateKey: fake.app.privateKeyPem,
    apiUrl: fake.url,
    now: () => now,
  });
  sql = connect(db.url('postgres'));
  app = createVmAgentApp({ sql, secret, mcpUrl: 'https://sam.test/functions/v1/mcp', github: new TaskTokens(github) });
  client = new ControlPlaneClient({
    baseUrl: 'http://vm-agent.test/vm-agent',
    fetch: async (input, init) => app.request(input as string, init),
  });
  snapshots.hook(fake);
});

afterAll(async () => {
  snapshots.stop();
  await sql?.end({ timeout: 5 });
  await fake?.close();
  rmSync(home, { recursive: true, force: true });
});

const cloneUrl = (r: Repo) => `${fake.url}/${r.owner.login}/${r.name}.git`;

/** A task on a project linked to `repo`, its node registered and its workspace ready: the workspace's payload. */
async function workspaceFor(repo: Repo | null): Promise<CreateWorkspacePayload & { nodeToken: string }> {
  const admin = db.admin;
  const owner = await createUser(admin);
  const project = await createProject(admin, owner);
  if (repo) {
    await admin`update public.projects set repo_provider = 'github', repository = ${cloneUrl(repo)},
                  github_installation_id = ${inst.id}, github_repository_id = ${repo.id},
                  github_full_name = ${`${repo.owner.login}/${repo.name}`}
                where id = ${project}`;
  }
  const task = await submitTask(admin, owner, project, 'Add a greeting to the site', { agentType: 'demo' });
  const [t] = await admin`select auto_provisioned_node_id as node from public.tasks where id = ${task.taskId}`;
  const [b] = await admin`select public.issue_bootstrap_token(${t!.node}) as token`;
  const reg = await client.register({ bootstrapToken: b!.token as string, agentVersion: 'test' });
  const polled = PollCommandsResponse.parse(
    await (
      await app.request('http://vm-agent.test/vm-agent/nodes/commands?wait=0', {
        headers: { authorization: `Bearer ${reg.nodeToken}` },
      })
    ).json(),
  );
  const cmd = polled.commands.find((c) => c.kind === 'create_workspace');
  if (!cmd || cmd.kind !== 'create_workspace') throw new Error('no create_workspace command');
  await client.ack(reg.nodeToken, cmd.id, { ok: true });
  await client.workspaceReady(cmd.payload.workspaceToken);
  return { ...cmd.payload, nodeToken: reg.nodeToken };
}

function helperFor(ws: CreateWorkspacePayload): Promise<GitCredentialHelper> {
  return startCredentialHelper(async (q) => {
    const protocol = q.protocol === 'http' || q.protocol === 'https' ? q.protocol : undefined;
    const r = await client.gitToken(ws.workspaceToken, {
      ...(protocol ? { protocol } : {}),
      host: q.host,
      path: q.path,
    });
    return { token: r.token };
  });
}

function gitTokenCall(token: string, body: unknown) {
  return app.request('http://vm-agent.test/vm-agent/workspaces/git-token', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
}

const mints = () => fake.log.filter((l) => l.method === 'POST' && l.path.endsWith('/access_tokens')).length;

describe('a task workspace and its GitHub token', () => {
  it('clones and pushes its branch with minted tokens, refreshed when one expired mid-task, and leaks none', async () => {
    const ws = await workspaceFor(site);
    expect(ws.repoProvider).toBe('github');
    const helper = await helperFor(ws);
    const logs: string[] = [];
    const log = (l: string) => logs.push(l);
    const spawned: string[] = [];
    const onSpawn = (s: { args: string[]; env: Record<string, string> }) =>
      spawned.push(JSON.stringify(s.args), JSON.stringify(s.env));
    const dir = join(home, 'work', 'repo');
    const ctx = { credentialHelper: helper, log, onSpawn, policy: HTTP_ONLY };
    const mintsBefore = mints();
    snapshots.start(100);
    try {
      const { defaultBranch } = await cloneRepository({ ...ctx, url: ws.repository, dir });
      expect(defaultBranch).toBe('main');
      await checkoutTaskBranch(dir, ws.branch, { ...ctx, baseBranch: 'main' });
      expect(mints() - mintsBefore).toBe(1);

      // An hour later the first token is dead; git asks again and gets a fresh one.
      now += 61 * 60_000;
      const first = [...fake.tokens.values()].filter((t) => t.repositoryIds?.includes(site.id));
      expect(first.every((t) => t.expiresAt <= now)).toBe(true);
      writeFileSync(join(dir, 'GREETING.md'), 'Hello\n');
      const pushed = await completeWork({ ...ctx, dir, defaultBranch: 'main' });
      expect(pushed.error).toBeNull();
      expect(pushed.pushed).toBe(true);
      expect(mints() - mintsBefore).toBe(2);
      // The branch is on GitHub's side at the pushed commit.
      const onGitHub = await git(['rev-parse', `refs/heads/${ws.branch}`], { cwd: fake.repoPath(site) });
      expect(onGitHub).toBe(pushed.commitSha);

      // Each token was scoped to this one repository, with the task permissions only.
      const minted = [...fake.tokens.values()].slice(-2);
      for (const t of minted) {
        expect(t.repositoryIds).toEqual([site.id]);
        expect(t.permissions).toEqual({ contents: 'write', pull_requests: 'write', metadata: 'read' });
      }

      // No token anywhere it must not be.
      const tokens = [...fake.tokens.keys()];
      expect(snapshots.duringGit).toBeGreaterThan(0);
      expect(snapshots.leaks(tokens)).toEqual([]);
      const config = readFileSync(join(dir, '.git', 'config'), 'utf8');
      expect(config).toContain(ws.repository);
      for (const t of tokens) {
        expect(config).not.toContain(t);
        expect(logs.join('\n')).not.toContain(t);
        expect(spawned.join('\n')).not.toContain(t);
        expect(JSON.stringify(pushed)).not.toContain(t);
        expect(JSON.stringify(process.env)).not.toContain(t);
      }
      expect(existsSync(join(home, '.git-credentials'))).toBe(false);
      expect(config).not.toMatch(/credential/);
    } finally {
      snapshots.stop();
      await helper.close();
    }
    expect(existsSync(helper.socketPath)).toBe(false);
  });

  it("refuses a workspace that asks for another repository's token, over HTTP and through git", async () => {
    const ws = await workspaceFor(site);
    const host = new URL(fake.url).host;
    const mintsBefore = mints();

    const res = await gitTokenCall(ws.workspaceToken, { protocol: 'http', host, path: 'acme/other.git' });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('not_allowed');
    expect(body.error.message).toMatch(/only for its task's repository/);

    // Another host with the same path is not the task's repository either.
    expect((await gitTokenCall(ws.workspaceToken, { host: 'github.com', path: 'acme/site.git' })).status).toBe(403);

    // Through git: the clone fails with the refusal in words, and nothing was minted.
    const helper = await helperFor(ws);
    try {
      const dir = join(home, 'refused', randomBytes(4).toString('hex'));
      const attempt = cloneRepository({ url: cloneUrl(other), dir, credentialHelper: helper, policy: HTTP_ONLY });
      await expect(attempt).rejects.toThrow(/only for its task's repository/);
    } finally {
      await helper.close();
    }
    expect(mints()).toBe(mintsBefore);

    // Its own repository: a token, for that repository only.
    const ok = await gitTokenCall(ws.workspaceToken, { protocol: 'http', host, path: '/acme/site.git' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    const { token } = (await ok.json()) as { token: string };
    expect(fake.tokens.get(token)?.repositoryIds).toEqual([site.id]);
  });

  it('refuses a node token, and answers a project without a GitHub link in words', async () => {
    const ws = await workspaceFor(null);
    const host = new URL(fake.url).host;
    const unlinked = await gitTokenCall(ws.workspaceToken, { host: 'tmp', path: ws.repository });
    expect(unlinked.status).toBe(403);

    const admin = db.admin;
    const [w] = await admin`select project_id from public.workspaces where id = ${ws.workspaceId}`;
    await admin`update public.projects set repository = ${cloneUrl(site)} where id = ${w!.project_id}`;
    const res = await gitTokenCall(ws.workspaceToken, { host, path: 'acme/site.git' });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/not linked to a GitHub App/);

    const asNode = await gitTokenCall(ws.nodeToken, { host, path: 'acme/site.git' });
    expect(asNode.status).toBe(401);
  });
});
