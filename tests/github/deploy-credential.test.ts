/**
 * Private repositories on other git hosts: the project's deploy credential (stored encrypted
 * through the credential store) reaches the task's own workspace through `git-token` and the
 * machine's credential helper — real git clones and pushes through a Basic-auth `git http-backend`
 * that wants exactly that user name and password — and nowhere else: not another host, not argv,
 * not `.git/config`, not `~/.git-credentials`, not the logs.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreCredentialRequest } from '../../functions/_shared/common/contracts/credentials.ts';
import {
  PollCommandsResponse,
  type CreateWorkspacePayload,
} from '../../functions/_shared/common/contracts/vm-agent.ts';
import { importCredentialKey } from '../../functions/_shared/credentials/cipher.ts';
import { storeCredential } from '../../functions/_shared/credentials/store.ts';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { createVmAgentApp } from '../../functions/vm-agent/app.ts';
import { completeWork } from '../../vm-agent/git/complete.ts';
import { startCredentialHelper } from '../../vm-agent/git/credential-server.ts';
import { git } from '../../vm-agent/git/run-git.ts';
import { checkoutTaskBranch, cloneRepository } from '../../vm-agent/git/workspace.ts';
import { ControlPlaneClient } from '../../vm-agent/node/control-plane.ts';
import { startGitHttpServer, type GitHttpServer } from '../../vm-agent/test-support/git-http-server.ts';
import { makeRemote } from '../../vm-agent/test-support/git-repos.ts';
import { createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';

const HTTP_ONLY = { protocols: ['http' as const], localRoots: [] };
const home = mkdtempSync(join(tmpdir(), 'sam-deploy-home-'));
process.env.HOME = home;

const db = useTestDatabase('deploy_credentials');
const secret = randomBytes(32).toString('base64url');
const PASSWORD = `dpl-${randomBytes(16).toString('hex')}`;
let sql: Sql;
let key: CryptoKey;
let app: ReturnType<typeof createVmAgentApp>;
let client: ControlPlaneClient;
let server: GitHttpServer;
let remoteRoot: string;

beforeAll(async () => {
  remoteRoot = (await makeRemote()).root;
  server = await startGitHttpServer(remoteRoot, 'deployer', PASSWORD);
  sql = connect(db.url('postgres'));
  key = await importCredentialKey(randomBytes(32).toString('base64'));
  app = createVmAgentApp({
    sql,
    secret,
    mcpUrl: 'https://sam.test/functions/v1/mcp',
    credentialKey: key,
    github: null,
  });
  client = new ControlPlaneClient({
    baseUrl: 'http://vm-agent.test/vm-agent',
    fetch: async (input, init) => app.request(input as string, init),
  });
});

afterAll(async () => {
  await server?.close();
  await sql?.end({ timeout: 5 });
  rmSync(remoteRoot, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

const host = () => new URL(server.url).host;

/** A task on a project whose repository is on the test host; its workspace ready. */
async function workspaceFor(withCredential: 'project' | 'owner' | null) {
  const owner = await createUser(db.admin);
  const project = await createProject(db.admin, owner);
  await db.admin`update public.projects set repository = ${`${server.url}/remote.git`}, repo_provider = 'github'
                 where id = ${project}`;
  if (withCredential) {
    const req = StoreCredentialRequest.parse({
      type: 'git-deploy',
      provider: host(),
      secret: PASSWORD,
      config: { username: 'deployer' },
      ...(withCredential === 'project' ? { projectId: project } : {}),
    });
    await storeCredential(sql, key, { sub: owner, role: 'authenticated' }, req);
  }
  const task = await submitTask(db.admin, owner, project, 'Add a greeting', { agentType: 'demo' });
  const [t] = await db.admin`select auto_provisioned_node_id as node from public.tasks where id = ${task.taskId}`;
  const [b] = await db.admin`select public.issue_bootstrap_token(${t!.node}) as token`;
  const reg = await client.register({ bootstrapToken: b!.token as string, agentVersion: 'test' });
  const res = await app.request('http://vm-agent.test/vm-agent/nodes/commands?wait=0', {
    headers: { authorization: `Bearer ${reg.nodeToken}` },
  });
  const cmd = PollCommandsResponse.parse(await res.json()).commands.find((c) => c.kind === 'create_workspace');
  if (!cmd || cmd.kind !== 'create_workspace') throw new Error('no create_workspace command');
  await client.ack(reg.nodeToken, cmd.id, { ok: true });
  await client.workspaceReady(cmd.payload.workspaceToken);
  return cmd.payload as CreateWorkspacePayload;
}

const gitTokenCall = (token: string, body: unknown) =>
  app.request('http://vm-agent.test/vm-agent/workspaces/git-token', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });

describe('deploy credentials for another git host', () => {
  it("clones and pushes with the project's deploy credential through the helper, leaving it nowhere", async () => {
    const ws = await workspaceFor('project');
    const helper = await startCredentialHelper(async (q) => {
      const r = await client.gitToken(ws.workspaceToken, { protocol: 'http', host: q.host, path: q.path });
      return { token: r.token, ...(r.username ? { username: r.username } : {}) };
    });
    const logs: string[] = [];
    const spawned: string[] = [];
    const ctx = {
      credentialHelper: helper,
      log: (l: string) => logs.push(l),
      onSpawn: (s: { args: string[]; env: Record<string, string> }) => spawned.push(JSON.stringify(s)),
      policy: HTTP_ONLY,
    };
    const dir = join(home, 'work', 'repo');
    try {
      await cloneRepository({ ...ctx, url: ws.repository, dir });
      await checkoutTaskBranch(dir, ws.branch, { ...ctx, baseBranch: 'main' });
      writeFileSync(join(dir, 'GREETING.md'), 'hello\n');
      const result = await completeWork({ ...ctx, dir, defaultBranch: 'main' });
      expect(result.error).toBeNull();
      expect(result.pushed).toBe(true);
    } finally {
      await helper.close();
    }
    const pushed = await git(['--git-dir', join(remoteRoot, 'remote.git'), 'show', `${ws.branch}:GREETING.md`]);
    expect(pushed).toBe('hello');
    expect(server.requests.some((r) => r.authorized && r.path.endsWith('git-receive-pack'))).toBe(true);
    expect(readFileSync(join(dir, '.git', 'config'), 'utf8')).not.toContain(PASSWORD);
    expect(existsSync(join(home, '.git-credentials'))).toBe(false);
    expect(spawned.join('\n')).not.toContain(PASSWORD);
    expect(logs.join('\n')).not.toContain(PASSWORD);
    const [row] = await db.admin`select ciphertext::text as c from public.credentials where provider = ${host()}`;
    expect(row!.c).not.toContain(Buffer.from(PASSWORD).toString('hex'));
  });

  it("falls back to the owner's own credential for the host", async () => {
    const ws = await workspaceFor('owner');
    const r = await gitTokenCall(ws.workspaceToken, { protocol: 'http', host: host(), path: 'remote.git' });
    expect(r.status).toBe(200);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect(await r.json()).toMatchObject({ token: PASSWORD, username: 'deployer' });
  });

  it('refuses another host or repository, and says so when no credential is stored', async () => {
    const ws = await workspaceFor('project');
    const elsewhere = await gitTokenCall(ws.workspaceToken, { host: 'git.example.com', path: 'remote.git' });
    expect(elsewhere.status).toBe(403);
    const otherRepo = await gitTokenCall(ws.workspaceToken, { host: host(), path: 'other.git' });
    expect(otherRepo.status).toBe(403);
    expect(await otherRepo.text()).not.toContain(PASSWORD);
    const none = await workspaceFor(null);
    const r = await gitTokenCall(none.workspaceToken, { host: host(), path: 'remote.git' });
    expect(r.status).toBe(409);
    // Without credentials git fails in words instead of prompting.
    const helper = await startCredentialHelper(async (q) => {
      const t = await client.gitToken(none.workspaceToken, { protocol: 'http', host: q.host, path: q.path });
      return { token: t.token };
    });
    try {
      await expect(
        cloneRepository({
          url: none.repository,
          dir: join(home, 'work', 'none'),
          credentialHelper: helper,
          policy: HTTP_ONLY,
        }),
      ).rejects.toThrow();
    } finally {
      await helper.close();
    }
  });

  it('refuses deploy credentials whose user name or secret could break git’s line protocol', () => {
    const base = { type: 'git-deploy', provider: 'git.example.com' };
    expect(StoreCredentialRequest.safeParse({ ...base, secret: 'a\nb' }).success).toBe(false);
    expect(
      StoreCredentialRequest.safeParse({ ...base, secret: 'tok', config: { username: 'a\npassword=x' } }).success,
    ).toBe(false);
    expect(StoreCredentialRequest.safeParse({ ...base, secret: 'tok', config: { region: 'x' } }).success).toBe(false);
    expect(StoreCredentialRequest.safeParse({ ...base, secret: 'tok', config: { username: 'deployer' } }).success).toBe(
      true,
    );
  });
});
