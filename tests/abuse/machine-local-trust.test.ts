/**
 * Local mode does not hand the host to a project: a machine of the local machine host runs the
 * real vm-agent with its own HOME and nothing of the host's environment, and a project whose
 * repository lies outside the configured roots (or uses a protocol the host does not allow) fails
 * its task in words — in the task and in the chat — without cloning anything.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { localProvider } from '../../functions/_shared/providers/local.ts';
import { startMachineHost, type MachineHost } from '../../local-machines/host.ts';
import type { RepositoryPolicy } from '../../vm-agent/git/policy.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { chatMessages, prepareMachine, settled, type PreparedMachine } from '../vm-agent-node/harness.ts';

const stack = useFunctionsStack('machine_local_trust');
const TOKEN = 'machine-host-token-' + 'y'.repeat(16);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function hostWith(repositories: RepositoryPolicy): Promise<MachineHost> {
  const baseDir = await mkdtemp(join(tmpdir(), 'sam-trust-machines-'));
  const host = await startMachineHost({
    baseDir,
    token: TOKEN,
    repositories,
    agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '1' },
    stopTimeoutMs: 5000,
  });
  cleanups.push(async () => {
    await host.close();
    await rm(baseDir, { recursive: true, force: true });
  });
  return host;
}

async function machineFor(message: string): Promise<PreparedMachine> {
  const machine = await prepareMachine(stack.db.admin, stack.functionUrl('vm-agent'), message);
  cleanups.push(() => machine.cleanup());
  return machine;
}

/** Starts the prepared node's machine on `host`, as the orchestrator's local provider would. */
async function boot(host: MachineHost, machine: PreparedMachine): Promise<{ id: string; dir: string; pid: number }> {
  const provider = localProvider({ url: host.url, token: TOKEN });
  const created = await provider.createMachine({
    nodeId: machine.nodeId,
    name: `sam-${machine.nodeId.slice(0, 8)}`,
    vmSize: 'small',
    labels: { sam: 'node' },
    userData: { controlPlaneUrl: stack.functionUrl('vm-agent'), bootstrapToken: machine.bootstrapToken },
  });
  const dir = join(host.baseDir, created.providerInstanceId);
  onTestFailed(() => {
    const log = join(dir, 'vm-agent.log');
    if (existsSync(log)) console.log(`vm-agent log:\n${readFileSync(log, 'utf8')}`);
  });
  const pid = host.machines().find((m) => m.id === created.providerInstanceId)!.pid!;
  return { id: created.providerInstanceId, dir, pid };
}

function environOf(pid: number): Record<string, string> {
  return Object.fromEntries(
    readFileSync(`/proc/${pid}/environ`, 'utf8')
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}

describe('local machines and the host they run on', () => {
  it("the vm-agent process holds only PATH and HOME, and HOME is the machine's own directory", async () => {
    process.env.SAM_TEST_HOST_ONLY = 'not-for-machines';
    cleanups.push(async () => delete process.env.SAM_TEST_HOST_ONLY);
    const host = await hostWith({ protocols: ['https', 'file'], localRoots: [tmpdir()] });
    const machine = await machineFor('Add a greeting to README.md');
    const { dir, pid } = await boot(host, machine);
    const env = environOf(pid);
    expect(Object.keys(env).sort()).toEqual(['HOME', 'PATH']);
    expect(env.HOME).toBe(join(dir, 'home'));
    expect(env.PATH!.split(':').every((d) => ['/usr/bin', '/bin', join(process.execPath, '..')].includes(d))).toBe(
      true,
    );
    // And it works: the task (a repository under an allowed root) completes.
    const done = await settled(stack.db.admin, machine.task.taskId);
    expect(done).toMatchObject({ status: 'completed', workspace_status: 'stopped' });
  }, 90_000);

  it('a project repository outside the configured roots fails the task in words, in the task and in the chat', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'sam-allowed-root-'));
    cleanups.push(() => rm(elsewhere, { recursive: true, force: true }));
    const host = await hostWith({ protocols: ['https', 'file'], localRoots: [elsewhere] });
    const machine = await machineFor('Add a greeting to README.md');
    const { dir } = await boot(host, machine);

    const failed = await settled(stack.db.admin, machine.task.taskId);
    expect(failed).toMatchObject({ status: 'failed', workspace_status: 'failed' });
    expect(failed.error_message).toContain(`the repository ${machine.bare} is outside the directories`);
    expect(failed.error_message).toContain('SAM_LOCAL_REPO_ROOTS');
    const messages = await chatMessages(stack.db.admin, machine.task.sessionId);
    expect(messages.find((m) => m.message_id === 'task-failed')?.content).toMatch(/outside the directories/);
    // Nothing was cloned.
    const workspaces = join(dir, 'workspaces');
    const repos = existsSync(workspaces)
      ? (await readdir(workspaces)).filter((w) => existsSync(join(workspaces, w, 'repo')))
      : [];
    expect(repos).toEqual([]);
  });

  it("an ssh:// repository (which would use the host's keys) is refused unless the host allows ssh", async () => {
    const host = await hostWith({ protocols: ['https', 'file'], localRoots: [tmpdir()] });
    const machine = await machineFor('Add a greeting to README.md');
    await stack.db.admin`update public.projects set repository = 'ssh://localhost/srv/secret.git'
                          where id = ${machine.project}`;
    await boot(host, machine);
    const failed = await settled(stack.db.admin, machine.task.taskId);
    expect(failed.status).toBe('failed');
    expect(failed.error_message).toMatch(
      /uses the ssh protocol, which this machine does not allow \(allowed: https, file\)/,
    );
  });
});
