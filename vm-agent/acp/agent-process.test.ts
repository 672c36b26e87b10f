import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import { AgentClient } from './agent-client.ts';
import { spawnAgentProcess, type AgentProcess } from './agent-process.ts';

const DEMO_BIN = fileURLToPath(new URL('../demo-agent/bin.mjs', import.meta.url));
let workspace: string;
let agent: AgentProcess | null = null;
beforeEach(async () => {
  workspace = await mkdtemp(path.join(tmpdir(), 'sam-proc-'));
});
afterEach(async () => {
  await agent?.stop(500);
  agent = null;
  await rm(workspace, { recursive: true, force: true });
});

describe('agent process', () => {
  it('an agent that dies mid-turn fails the prompt, keeps the records so far, and ends with turn_error', async () => {
    agent = spawnAgentProcess({
      command: process.execPath,
      args: [DEMO_BIN],
      env: { SAM_DEMO_AGENT_DELAY_MS: '10' },
      cwd: workspace,
    });
    const records: MessageRecord[] = [];
    const client = await AgentClient.connect(agent.stream, {
      workspaceRoot: workspace,
      sessionId: 'crash',
      flushIntervalMs: 20,
      onRecord: (r) => void records.push(r),
    });
    await client.newSession();
    const turn = client.prompt('think a lot [stream:1000]');
    await expect.poll(() => records.filter((r) => r.role === 'thought').length, { timeout: 10_000 }).toBeGreaterThan(1);
    agent.child.kill('SIGKILL');
    await expect(turn).rejects.toBeTruthy();
    await client.closed;
    expect(records.at(-1)?.metadata.event).toBe('turn_error');
    expect(
      records
        .filter((r) => r.role === 'thought')
        .map((r) => r.content)
        .join(''),
    ).toMatch(/^The request is/);
  });

  it('stop() ends a live agent with SIGTERM', async () => {
    agent = spawnAgentProcess({ command: process.execPath, args: [DEMO_BIN], cwd: workspace });
    const exit = await agent.stop(2000);
    expect(exit.signal === 'SIGTERM' || exit.code !== null).toBe(true);
    expect(agent.child.exitCode !== null || agent.child.signalCode !== null).toBe(true);
  });
});
