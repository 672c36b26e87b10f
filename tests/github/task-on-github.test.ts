/**
 * A task on a private GitHub repository, machine side to pull request: the vm-agent's node loop
 * (NodeAgent, in-process, demo agent) against the real `vm-agent` function (in-process, real test
 * database) with the fake GitHub as the App's GitHub. The workspace clones and pushes through its
 * credential helper with tokens the function mints; then `open_pr` opens the pull request from
 * what was pushed. No token shows in argv or the environments of the machine's processes (the
 * agent's included), in the vm-agent's log or the chat.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { GitHubApp } from '../../functions/_shared/github/app.ts';
import { TaskTokens } from '../../functions/_shared/github/task-tokens.ts';
import type { JobContext } from '../../functions/_shared/orchestrator/jobs.ts';
import { runDueJobs } from '../../functions/_shared/orchestrator/run.ts';
import { providerRegistry } from '../../functions/_shared/providers/registry.ts';
import { createVmAgentApp } from '../../functions/vm-agent/app.ts';
import { DEMO_GREETING } from '../../vm-agent/demo-agent/scenario.ts';
import { git } from '../../vm-agent/git/run-git.ts';
import { NodeAgent } from '../../vm-agent/node/node-agent.ts';
import { FakeGitHub } from '../fakes/github/server.ts';
import type { Installation, Repo } from '../fakes/github/shapes.ts';
import { useTestDatabase } from '../helpers/test-database.ts';
import { chatMessages, prepareMachine, settled } from '../vm-agent-node/harness.ts';
import { ProcessSnapshots } from './process-snapshots.ts';

const db = useTestDatabase('github_task_on_github');
const BASE = 'http://vm-agent.test/vm-agent';
let sql: Sql;
let fake: FakeGitHub;
let github: GitHubApp;
let app: ReturnType<typeof createVmAgentApp>;
let repo: Repo;
let inst: Installation;
const snapshots = new ProcessSnapshots(/git|credential|helper|agent/);

beforeAll(async () => {
  fake = await FakeGitHub.start();
  const org = fake.addAccount('acme', 'Organization');
  repo = fake.addRepository(org, 'site');
  inst = fake.addInstallation(org);
  github = new GitHubApp({ appId: fake.app.clientId, privateKey: fake.app.privateKeyPem, apiUrl: fake.url });
  sql = connect(db.url('postgres'));
  app = createVmAgentApp({
    sql,
    secret: randomBytes(32).toString('base64url'),
    mcpUrl: 'http://127.0.0.1:9/functions/v1/mcp',
    pollIntervalMs: 50,
    github: new TaskTokens(github),
  });
  snapshots.hook(fake);
});

afterAll(async () => {
  snapshots.stop();
  await sql?.end({ timeout: 5 });
  await fake?.close();
});

describe('a task on a private GitHub repository', () => {
  it('is cloned and pushed with minted tokens through the credential helper, and ends in a pull request', async () => {
    const admin = db.admin;
    const machine = await prepareMachine(admin, BASE, 'Add a greeting to README.md');
    const cloneUrl = `${fake.url}/acme/site.git`;
    await admin`update public.projects set repo_provider = 'github', repository = ${cloneUrl},
                  github_installation_id = ${inst.id}, github_repository_id = ${repo.id}, github_full_name = 'acme/site'
                where id = ${machine.project}`;
    const lines: string[] = [];
    const agent = new NodeAgent({
      machineDir: machine.dir,
      controlPlaneUrl: BASE,
      bootstrapToken: machine.bootstrapToken,
      agentVersion: 'sam-vm-agent/test',
      agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '1' },
      machineEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
      repositoryPolicy: { protocols: ['http'], localRoots: [] },
      fetch: async (input, init) => app.request(input as string, init),
      pollWaitSeconds: 1,
      dockerAvailable: async () => false,
      backoff: { initialMs: 200, maxMs: 1000 },
      outboxFlushDelayMs: 50,
      log: (line) => lines.push(line),
    });
    onTestFailed(() => console.log(`vm-agent log:\n${lines.join('\n')}`));
    snapshots.start(100);
    try {
      await agent.start();
      const done = await settled(admin, machine.task.taskId, 120_000);
      expect(done).toMatchObject({ status: 'completed', workspace_status: 'stopped' });
      expect(done.completion_evidence?.gitPush).toMatchObject({ pushed: true, branchName: machine.task.branchName });
    } finally {
      snapshots.stop();
      await agent.stop();
      await machine.cleanup();
    }

    // The demo agent's commit is on GitHub's side of the task branch.
    const readme = await git(['show', `refs/heads/${machine.task.branchName}:README.md`], { cwd: fake.repoPath(repo) });
    expect(readme).toContain(DEMO_GREETING);
    const minted = [...fake.tokens.values()];
    expect(minted.length).toBeGreaterThan(0);
    expect(minted.every((t) => JSON.stringify(t.repositoryIds) === JSON.stringify([repo.id]))).toBe(true);

    // The orchestrator opens the PR from what was pushed.
    const ctx: JobContext = { sql, providers: providerRegistry({}), controlPlaneUrl: BASE, github };
    expect(await runDueJobs(ctx, { kinds: ['open_pr'] })).toMatchObject({ succeeded: 1, failed: 0 });
    const pr = fake.pulls.find((p) => p.headRef === machine.task.branchName);
    expect(pr).toMatchObject({ baseRef: 'main', title: 'Add a greeting to README.md', state: 'open' });
    const [t] = await admin`select pr_number, pr_state from public.tasks where id = ${machine.task.taskId}`;
    expect(t).toEqual({ pr_number: pr!.number, pr_state: 'open' });

    // No GitHub token anywhere it must not be.
    const tokens = [...fake.tokens.keys()];
    expect(snapshots.duringGit).toBeGreaterThan(0);
    expect(snapshots.leaks(tokens)).toEqual([]);
    const log = lines.join('\n');
    const chat = JSON.stringify(await chatMessages(admin, machine.task.sessionId));
    for (const token of tokens) {
      expect(log).not.toContain(token);
      expect(chat).not.toContain(token);
    }
    expect(log).toMatch(/pushed sam\//);
  }, 180_000);
});
