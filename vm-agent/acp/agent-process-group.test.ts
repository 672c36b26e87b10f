/**
 * An agent runs in its own process group, and ending it ends everything it started: nothing of
 * one task survives onto the next task on a warm node.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processAlive } from '../../tests/helpers/processes.ts';
import { waitFor } from '../../tests/helpers/wait.ts';
import { spawnAgentProcess, type AgentProcess } from './agent-process.ts';

const SPAWNING_AGENT = path.join(import.meta.dirname, 'fixtures', 'spawning-agent.mjs');

let dir: string;
let agent: AgentProcess | null = null;
const grandchildren: number[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sam-pgroup-'));
});
afterEach(async () => {
  await agent?.stop(200);
  agent = null;
  // Never leave a stray process behind, whatever the outcome.
  for (const pid of grandchildren.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await rm(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string> = {}): Promise<{ agent: AgentProcess; grandchild: number }> {
  const pidFile = path.join(dir, 'grandchild.pid');
  const started = spawnAgentProcess({
    command: process.execPath,
    args: [SPAWNING_AGENT],
    env: { SPAWNING_AGENT_PID_FILE: pidFile, ...env },
    cwd: dir,
  });
  agent = started;
  const grandchild = await waitFor('the grandchild to start', () =>
    existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : null,
  );
  grandchildren.push(grandchild);
  expect(processAlive(grandchild)).toBe(true);
  return { agent: started, grandchild };
}

/** The process group of `pid` (field 5 of /proc/<pid>/stat). */
function processGroup(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
}

describe('agent process groups', () => {
  it('starts the agent as the leader of its own process group, apart from the vm-agent', async () => {
    const { agent, grandchild } = await start();
    const pid = agent.child.pid!;
    expect(processGroup(pid)).toBe(pid);
    expect(processGroup(grandchild)).toBe(pid);
    expect(processGroup(process.pid)).not.toBe(pid);
  });

  it("stopping the agent ends the processes it started: the grandchild's pid is gone", async () => {
    const { agent, grandchild } = await start();
    await agent.stop(2000);
    await waitFor('the grandchild to be gone', () => !processAlive(grandchild), 5000);
  });

  it('a grandchild that ignores SIGTERM is killed after the grace period', async () => {
    const { agent, grandchild } = await start({ SPAWNING_AGENT_STUBBORN: '1' });
    const t0 = Date.now();
    await agent.stop(300);
    await waitFor('the stubborn grandchild to be gone', () => !processAlive(grandchild), 5000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it('an agent that already exited still has what it left behind ended when its session stops', async () => {
    const { agent, grandchild } = await start({ SPAWNING_AGENT_EXIT: '1' });
    await agent.exited;
    expect(processAlive(grandchild)).toBe(true);
    await agent.stop(500);
    await waitFor('the orphaned grandchild to be gone', () => !processAlive(grandchild), 5000);
  });
});
