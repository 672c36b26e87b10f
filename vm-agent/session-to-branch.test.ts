/**
 * The VM agent's core end to end, over real processes and repositories: clone a bare remote, check
 * out the task branch, start the demo agent as a child process over ACP/stdio with SAM's MCP
 * server configured, prompt it, stream its records through the durable outbox to a collecting
 * `send`, restart the agent (kill -9) and resume the session, then commit and push the branch.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MessageBatch, type MessageRecord } from '../functions/_shared/common/contracts/messages.ts';
import { AgentClient, type AgentClientOptions } from './acp/agent-client.ts';
import { spawnAgentProcess, type AgentProcess } from './acp/agent-process.ts';
import { DEMO_GREETING } from './demo-agent/scenario.ts';
import { completeWork } from './git/complete.ts';
import type { RepositoryPolicy } from './git/policy.ts';
import { checkoutTaskBranch, cloneRepository } from './git/workspace.ts';
import { Outbox } from './outbox/outbox.ts';
import { makeRemote, sh } from './test-support/git-repos.ts';
import { startTestMcpServer, type TestMcpServer } from './test-support/mcp-server.ts';

const DEMO_BIN = fileURLToPath(new URL('./demo-agent/bin.mjs', import.meta.url));
const AGENT_TOKEN = 'sam_agent_token_e2e_0123456789';
const BRANCH = 'sam/add-greeting-a1b2c3';
/** The test repository is local, under the temp dir: what local mode allows. */
const LOCAL = (): RepositoryPolicy => ({ protocols: ['https', 'file'], localRoots: [root] });

let root: string;
let bare: string;
let stateDir: string;
let mcp: TestMcpServer;
const agents: AgentProcess[] = [];

beforeEach(async () => {
  ({ root, bare } = await makeRemote());
  stateDir = await mkdtemp(path.join(tmpdir(), 'sam-demo-state-'));
  mcp = await startTestMcpServer(AGENT_TOKEN);
});
afterEach(async () => {
  for (const a of agents.splice(0)) await a.stop(500);
  await mcp.close();
  await rm(root, { recursive: true, force: true });
  await rm(stateDir, { recursive: true, force: true });
});

describe('session to branch', () => {
  it('drives the demo agent process on a real workspace, delivers records in order, pushes the agent commit', async () => {
    const workspace = path.join(root, 'workspace');
    const { defaultBranch } = await cloneRepository({ url: bare, dir: workspace, policy: LOCAL() });
    await checkoutTaskBranch(workspace, BRANCH);

    const sent: MessageRecord[][] = [];
    const outbox = await Outbox.open({
      dir: path.join(root, 'outbox'),
      flushDelayMs: 20,
      maxMessages: 25,
      send: async (batch) => {
        MessageBatch.parse(batch); // what the vm-agent edge function will do
        sent.push(batch.messages);
      },
    });
    outbox.start();

    const start = async (epoch: string) => {
      const agent = spawnAgentProcess(
        {
          command: process.execPath,
          args: [DEMO_BIN],
          env: { SAM_DEMO_AGENT_DELAY_MS: '2', SAM_DEMO_AGENT_STATE_DIR: stateDir },
          cwd: workspace,
        },
        { ...process.env, SAM_WORKSPACE_TOKEN: 'must-not-leak' },
      );
      agents.push(agent);
      const options: AgentClientOptions = {
        workspaceRoot: workspace,
        sessionId: 'sam-session-e2e',
        epoch,
        mcp: { url: mcp.url, token: AGENT_TOKEN },
        onRecord: (record) => outbox.append(record),
      };
      return { agent, client: await AgentClient.connect(agent.stream, options) };
    };

    // Turn 1.
    const first = await start('run1');
    const acpSessionId = await first.client.newSession();
    expect(await first.client.prompt('add a greeting to README')).toBe('end_turn');
    expect(await readFile(path.join(workspace, 'README.md'), 'utf8')).toBe(`# Demo project\n${DEMO_GREETING}\n`);

    // The agent process dies; a new one resumes the same ACP session and does a second turn.
    first.agent.child.kill('SIGKILL');
    expect((await first.agent.exited).signal).toBe('SIGKILL');
    const second = await start('run2');
    await second.client.loadSession(acpSessionId);
    expect(await second.client.prompt('add a greeting to README')).toBe('end_turn');
    expect(await readFile(path.join(workspace, 'README.md'), 'utf8')).toBe(
      `# Demo project\n${DEMO_GREETING}\n${DEMO_GREETING}\n`,
    );
    await outbox.drained();
    await outbox.close();

    // Records: valid batches, unique ids, in order per run, both turns complete.
    const records = sent.flat();
    expect(sent.length).toBeGreaterThan(1);
    expect(new Set(records.map((r) => r.messageId)).size).toBe(records.length);
    const run1 = records.filter((r) => r.messageId.startsWith('run1-'));
    const run2 = records.filter((r) => r.messageId.startsWith('run2-'));
    expect(run1.length + run2.length).toBe(records.length);
    expect(records.findIndex((r) => r.messageId.startsWith('run2-'))).toBe(run1.length); // run 1 entirely first
    for (const run of [run1, run2]) {
      const seqs = run.map((r) => r.metadata.seq as number);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(run.at(-1)?.metadata).toMatchObject({ event: 'turn_end', stopReason: 'end_turn' });
    }
    expect(run1[0]?.metadata).toMatchObject({ event: 'session_started', acpSessionId });
    expect(run2[0]?.metadata).toMatchObject({ event: 'session_loaded', acpSessionId });
    expect(run1.filter((r) => r.toolCallId === 'call-1-edit').map((r) => r.toolStatus)).toEqual([
      'pending',
      'in_progress',
      'completed',
    ]);
    expect(run2.filter((r) => r.toolCallId === 'call-2-edit').map((r) => r.toolStatus)).toEqual([
      'pending',
      'in_progress',
      'completed',
    ]);
    expect(
      run1
        .filter((r) => r.role === 'thought')
        .map((r) => r.content)
        .join(''),
    ).toContain('The request is: "add a greeting to README"');
    expect(mcp.calls.map((c) => c.tool)).toEqual([
      'update_task_status',
      'complete_task',
      'update_task_status',
      'complete_task',
    ]);
    expect(mcp.calls.every((c) => c.authorization === `Bearer ${AGENT_TOKEN}`)).toBe(true);
    expect(JSON.stringify(records)).not.toContain(AGENT_TOKEN);
    expect(JSON.stringify(records)).not.toContain('must-not-leak');

    // Completion: commit leftover work and push the task branch.
    const result = await completeWork({ dir: workspace, defaultBranch, policy: LOCAL() });
    expect(result).toMatchObject({ pushed: true, branchName: BRANCH, committed: true, error: null });
    expect(sh(bare, 'rev-parse', BRANCH)).toBe(result.commitSha);
    expect(sh(bare, 'show', `${BRANCH}:README.md`)).toBe(`# Demo project\n${DEMO_GREETING}\n${DEMO_GREETING}`);
    expect(sh(bare, 'log', '-1', '--format=%s', BRANCH)).toBe('chore: save agent work');
    expect(sh(bare, 'diff-tree', '--no-commit-id', '--name-only', '-r', BRANCH)).toBe('README.md');
    expect(sh(bare, 'show', 'main:README.md')).toBe('# Demo project');
  }, 60_000);
});
