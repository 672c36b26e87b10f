/**
 * The vm-agent as the local machine provider runs it: `node vm-agent/bin.mjs <machineDir>` with
 * cwd = machineDir and only PATH and HOME, reading bootstrap.json — against the real functions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { DEMO_GREETING } from '../../vm-agent/demo-agent/scenario.ts';
import { sh } from '../../vm-agent/test-support/git-repos.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { prepareMachine, settled, taskView, waitFor, type PreparedMachine } from './harness.ts';

const BIN = fileURLToPath(new URL('../../vm-agent/bin.mjs', import.meta.url));
const stack = useFunctionsStack('vm_agent_bin');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

type Run = { child: ChildProcess; output: () => string; exited: Promise<number | null> };

function runMachine(machine: PreparedMachine): Run {
  const child = spawn(process.execPath, [BIN, machine.dir], {
    cwd: machine.dir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (t: string) => (output += t));
  child.stderr.setEncoding('utf8').on('data', (t: string) => (output += t));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  onTestFailed(() => console.log(`vm-agent output:\n${output}`));
  return { child, output: () => output, exited };
}

async function machineFor(message: string, agentEnv?: Record<string, string>) {
  const machine = await prepareMachine(stack.db.admin, stack.functionUrl('vm-agent'), message, {}, agentEnv);
  cleanups.push(() => machine.cleanup());
  return machine;
}

/** Processes whose working directory lies in `dir` (Linux /proc). */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`).startsWith(`${dir}/`)) pids.push(Number(entry));
    } catch {
      // gone or not ours
    }
  }
  return pids;
}

describe('the vm-agent command', () => {
  it('registers from bootstrap.json, drops the used token from it, completes the task and exits 0 on SIGTERM', async () => {
    const machine = await machineFor('Add a greeting to README.md');
    const run = runMachine(machine);
    const done = await settled(stack.db.admin, machine.task.taskId);
    expect(done).toMatchObject({ status: 'completed', workspace_status: 'stopped', node_status: 'warm' });
    expect(sh(machine.bare, 'show', `${machine.task.branchName}:README.md`)).toBe(`# Demo project\n${DEMO_GREETING}`);

    const file = path.join(machine.dir, 'bootstrap.json');
    const written = JSON.parse(await readFile(file, 'utf8'));
    expect(written).not.toHaveProperty('bootstrapToken');
    expect(written).toMatchObject({ nodeId: machine.nodeId, controlPlaneUrl: stack.functionUrl('vm-agent') });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const [node] = await stack.db
      .admin`select provider_instance_id, agent_version from public.nodes where id = ${machine.nodeId}`;
    // bootstrap.json's providerInstanceId is not the machine's to report: only the provider's answer
    // at creation sets it (this node was made without a provider, so it has none).
    expect(node).toMatchObject({ provider_instance_id: null });
    expect(node!.agent_version).toMatch(/^sam-vm-agent\//);

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    const lines = run.output().trimEnd().split('\n');
    expect(lines.every((l) => l.startsWith('vm-agent: '))).toBe(true);
    expect(lines).toContain(`vm-agent: registered as node ${machine.nodeId}`);
    expect(lines.at(-1)).toBe('vm-agent: stopped (signal)');
    expect(run.output()).not.toContain(machine.bootstrapToken);
    expect(run.output()).not.toMatch(/Bearer|eyJ/);
  }, 90_000);

  it('exits 0 when its node is destroyed in the middle of a task, leaving no agent running', async () => {
    const machine = await machineFor('Add a greeting to README.md [stream:20000]', { SAM_DEMO_AGENT_DELAY_MS: '2' });
    const run = runMachine(machine);
    await waitFor('the agent to be prompting', async () => {
      const [s] = await stack.db.admin`select status from public.agent_sessions where task_id = ${machine.task.taskId}`;
      return s?.status === 'prompting';
    });
    expect(processesIn(machine.dir).length).toBeGreaterThan(0);

    await stack.db.admin`select public.destroy_node(${machine.nodeId}, 'test')`;
    expect(await run.exited).toBe(0);
    // It stopped because its node was destroyed, not because the turn (20 000 chunks) ran out.
    expect(run.output()).toContain('vm-agent: stopped (token_revoked)');
    const [finished] = await stack.db.admin`
      select count(*)::int as n from public.messages m join public.tasks t on t.chat_session_id = m.session_id
       where t.id = ${machine.task.taskId} and m.content like 'Done: appended%'`;
    expect(finished!.n).toBe(0);
    expect(processesIn(machine.dir)).toEqual([]);
    const t = await taskView(stack.db.admin, machine.task.taskId);
    expect(t.node_status).toBe('destroying');
  }, 90_000);
});
