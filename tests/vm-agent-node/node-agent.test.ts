/**
 * The vm-agent's node loop (NodeAgent, in-process) against the real vm-agent and mcp functions
 * under Deno and a fresh database: what a user sees after submitting a task — the agent's messages
 * in the chat, the task completed, a commit on the task branch of their repository — and what the
 * machine does next.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { DEMO_GREETING } from '../../vm-agent/demo-agent/scenario.ts';
import { NodeAgent, type NodeAgentOptions } from '../../vm-agent/node/node-agent.ts';
import { sh } from '../../vm-agent/test-support/git-repos.ts';
import { startFlakyProxy, type FlakyProxy } from '../../vm-agent/test-support/flaky-proxy.ts';
import { as, submitTask } from '../helpers/control-plane.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import {
  chatMessages,
  LOCAL_REPOSITORIES,
  prepareMachine,
  settled,
  toolStatuses,
  waitFor,
  type PreparedMachine,
} from './harness.ts';

const stack = useFunctionsStack('vm_agent_node');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function nodeAgent(machine: PreparedMachine, url: string, extra: Partial<NodeAgentOptions> = {}) {
  const lines: string[] = [];
  const agent = new NodeAgent({
    machineDir: machine.dir,
    controlPlaneUrl: url,
    bootstrapToken: machine.bootstrapToken,
    agentVersion: 'sam-vm-agent/test',
    agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '1' },
    machineEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
    repositoryPolicy: LOCAL_REPOSITORIES,
    dockerAvailable: async () => false,
    backoff: { initialMs: 200, maxMs: 1000 },
    outboxFlushDelayMs: 50,
    log: (line) => lines.push(line),
    ...extra,
  });
  cleanups.push(() => agent.stop());
  onTestFailed(() => console.log(`vm-agent log:\n${lines.join('\n')}`));
  return { agent, lines };
}

async function machineFor(message: string, options: Record<string, unknown> = {}) {
  const machine = await prepareMachine(stack.db.admin, stack.functionUrl('vm-agent'), message, options);
  cleanups.push(() => machine.cleanup());
  return machine;
}

describe('a machine running tasks', () => {
  it('runs the task to a pushed branch and a completed task with every agent message once, then takes the next task on the same warm node', async () => {
    const admin = stack.db.admin;
    const machine = await machineFor('Add a greeting to README.md');
    const { agent, lines } = nodeAgent(machine, stack.functionUrl('vm-agent'));
    await agent.start();
    expect(agent.nodeId).toBe(machine.nodeId);

    const first = await settled(admin, machine.task.taskId);
    expect(first).toMatchObject({ status: 'completed', workspace_status: 'stopped', node_status: 'warm' });
    expect(first.completion_evidence?.gitPush).toMatchObject({ pushed: true, branchName: machine.task.branchName });
    expect(sh(machine.bare, 'show', `${machine.task.branchName}:README.md`)).toBe(`# Demo project\n${DEMO_GREETING}`);
    expect(sh(machine.bare, 'log', '-1', '--format=%s', machine.task.branchName)).toBe('chore: save agent work');
    expect(sh(machine.bare, 'show', 'main:README.md')).toBe('# Demo project');
    const [pr] =
      await admin`select payload from public.orchestrator_jobs where task_id = ${machine.task.taskId} and kind = 'open_pr'`;
    expect(pr!.payload).toMatchObject({ branch: machine.task.branchName, baseBranch: 'main' });

    const messages = await chatMessages(admin, machine.task.sessionId);
    expect(new Set(messages.map((m) => m.message_id)).size).toBe(messages.length);
    expect(messages.filter((m) => m.tool_metadata?.event === 'turn_end')).toHaveLength(1);
    expect(toolStatuses(messages, 'call-1-edit')).toEqual(['pending', 'in_progress', 'completed']);
    for (const tool of ['update_task_status', 'complete_task']) {
      const calls = messages.filter((m) => m.role === 'tool' && m.content === tool);
      expect(calls, tool).toHaveLength(1);
      expect(toolStatuses(messages, calls[0]!.tool_call_id!)).toEqual(['in_progress', 'completed']);
    }
    expect(messages.map((m) => m.role)).toEqual(expect.arrayContaining(['thought', 'plan', 'assistant', 'system']));
    expect(messages.find((m) => m.tool_metadata?.event === 'workspace_profile')?.content).toMatch(/no Docker/);
    // The agent reported its edit with absolute paths in the checkout: the chat names the file as the
    // repository (and the branch's diff) does, and nothing shows the machine's workspace directory.
    const edit = messages.filter((m) => m.tool_call_id === 'call-1-edit');
    expect(edit[0]!.tool_metadata).toMatchObject({
      locations: [{ path: 'README.md' }],
      rawInput: { path: 'README.md' },
    });
    expect(edit.at(-1)!.tool_metadata?.content).toEqual([expect.objectContaining({ type: 'diff', path: 'README.md' })]);
    expect(JSON.stringify(messages)).not.toContain(path.join(machine.dir, 'workspaces'));
    // The turn's end, then the branch's diff recorded before the task is reported complete.
    expect(messages.at(-2)?.content).toBe('Turn ended: end_turn');
    expect(messages.at(-1)?.content).toMatch(/^Changes on sam\/\S+ against main: 1 file, \+1 −0/);
    expect(first.summary).toContain('Done: appended');

    // The owner's next task claims the warm node; the same agent serves it, no new node.
    const next = await submitTask(admin, machine.owner, machine.project, 'Note the release in NOTES.md', {
      agentType: 'demo',
      workspaceProfile: 'lightweight',
      taskMode: 'task',
    });
    const second = await settled(admin, next.taskId);
    expect(second).toMatchObject({ status: 'completed', node_id: machine.nodeId, node_status: 'warm' });
    expect(sh(machine.bare, 'show', `${next.branchName}:NOTES.md`)).toBe('- Note the release in NOTES.md');
    const nodes = await admin`select id from public.nodes where owner_id = ${machine.owner}`;
    expect(nodes.map((n) => n.id)).toEqual([machine.nodeId]);
    const secondMessages = await chatMessages(admin, next.sessionId);
    expect(secondMessages.some((m) => m.tool_metadata?.event === 'workspace_profile')).toBe(false);

    await agent.stop();
    expect(await agent.stopped).toBe('stopped');
    expect(lines.join('\n')).not.toContain(machine.bootstrapToken);
    expect(lines.join('\n')).not.toMatch(/Bearer|eyJ/);
  }, 120_000);

  it('rides out a control-plane outage in the middle of a task without losing or doubling a message', async () => {
    const admin = stack.db.admin;
    const proxy: FlakyProxy = await startFlakyProxy(stack.functionUrl('vm-agent'));
    cleanups.push(() => proxy.close());
    const machine = await machineFor('Add a greeting to README.md [stream:400]');
    const { agent, lines } = nodeAgent(machine, proxy.url);
    await agent.start();
    await waitFor('the first message batch', async () => proxy.seen.some((p) => p.endsWith('/messages')));
    proxy.down();
    // The outage lasts until the long-poll and the message batches have both met it (and were
    // refused more than twice), however long that takes on a busy machine.
    await waitFor(
      'the long-poll and a message batch to meet the outage',
      () =>
        proxy.refused > 2 &&
        lines.some((l) => /^polling commands failed/.test(l)) &&
        lines.some((l) => /outbox: sending \d+ messages failed/.test(l)),
    );
    proxy.up();

    const done = await settled(admin, machine.task.taskId);
    expect(done).toMatchObject({ status: 'completed', workspace_status: 'stopped', node_status: 'warm' });
    expect(sh(machine.bare, 'show', `${machine.task.branchName}:README.md`)).toBe(`# Demo project\n${DEMO_GREETING}`);
    const messages = await chatMessages(admin, machine.task.sessionId);
    const thoughts = messages
      .filter((m) => m.role === 'thought')
      .map((m) => m.content)
      .join('');
    expect(thoughts).toContain(Array.from({ length: 400 }, (_, i) => `[#${i + 1}]`).join(''));
    expect(toolStatuses(messages, 'call-1-edit')).toEqual(['pending', 'in_progress', 'completed']);
    expect(messages.filter((m) => m.tool_metadata?.event === 'turn_end')).toHaveLength(1);
    // Every update of the agent arrived exactly once: the records' sequence ranges tile 0..n.
    const covered = messages.flatMap((m) => {
      const seq = m.tool_metadata?.seq;
      const chunks = (m.tool_metadata?.chunks as number | undefined) ?? 1;
      return typeof seq === 'number' ? Array.from({ length: chunks }, (_, i) => seq + i) : [];
    });
    expect(covered.sort((a, b) => a - b)).toEqual([...Array(covered.length).keys()]);
  }, 120_000);

  it('keeps a conversation open: a follow-up from the chat reaches the agent, and stopping the workspace ends it', async () => {
    const admin = stack.db.admin;
    const machine = await machineFor('Start a changelog in CHANGES.md', { taskMode: 'conversation' });
    const { agent } = nodeAgent(machine, stack.functionUrl('vm-agent'));
    await agent.start();
    const turns = async (n: number) =>
      (await chatMessages(admin, machine.task.sessionId)).filter((m) => m.tool_metadata?.event === 'turn_end').length >=
      n;
    await waitFor('the first turn', () => turns(1));
    const [t] =
      await admin`select status, execution_step, workspace_id from public.tasks where id = ${machine.task.taskId}`;
    expect(t).toMatchObject({ status: 'in_progress', execution_step: 'awaiting_followup' });
    await waitFor('the agent session to be idle', async () => {
      const [s] = await admin`select status from public.agent_sessions where task_id = ${machine.task.taskId}`;
      return s?.status === 'idle';
    });

    await as(
      admin,
      'authenticated',
      { sub: machine.owner },
      (tx) => tx`select public.post_message(${machine.task.sessionId}, 'Also mention the fix in CHANGES.md')`,
    );
    await waitFor('the follow-up turn', () => turns(2));
    const [cmd] =
      await admin`select status, result from public.node_commands where kind = 'prompt' and node_id = ${machine.nodeId}`;
    expect(cmd).toMatchObject({ status: 'done', result: { queued: true } });
    const workspace = path.join(machine.dir, 'workspaces', t!.workspace_id as string, 'repo');
    expect(await readFile(path.join(workspace, 'CHANGES.md'), 'utf8')).toBe(
      '- Start a changelog in CHANGES.md\n- Also mention the fix in CHANGES.md\n',
    );

    await as(
      admin,
      'authenticated',
      { sub: machine.owner },
      (tx) => tx`select public.stop_workspace(${t!.workspace_id}, 'done for today')`,
    );
    const done = await settled(admin, machine.task.taskId);
    expect(done).toMatchObject({ workspace_status: 'stopped', node_status: 'warm' });
    await waitFor('the stop command to be acknowledged', async () => {
      const [stop] =
        await admin`select status from public.node_commands where kind = 'stop_workspace' and node_id = ${machine.nodeId}`;
      return stop?.status === 'done';
    });
    const [session] = await admin`select status from public.agent_sessions where task_id = ${machine.task.taskId}`;
    expect(session!.status).toBe('stopped');
    expect(agent.workspaces.size).toBe(0);
  }, 90_000);

  it('acknowledges the stop of a workspace it never received, so the workspace ends stopped instead of waiting for good', async () => {
    const admin = stack.db.admin;
    const machine = await machineFor('Keep a log in LOG.md', { taskMode: 'conversation' });
    const { agent, lines } = nodeAgent(machine, stack.functionUrl('vm-agent'));
    await agent.start();
    await waitFor('the first task to be running', async () => {
      const [t] = await admin`select execution_step from public.tasks where id = ${machine.task.taskId}`;
      return t?.execution_step === 'awaiting_followup';
    });
    // A second workspace on the same machine whose create was taken but whose answer was lost on
    // the way (taken in the same transaction, so the machine's own poll never sees it).
    const second = await submitTask(admin, machine.owner, machine.project, 'Never arrives', { agentType: 'demo' });
    const workspaceId = await admin.begin(async (tx) => {
      const [w] = await tx`select public.sam_request_workspace(${second.taskId}, ${machine.nodeId}) as id`;
      await tx`update public.node_commands set status = 'delivered', delivered_at = now(), deliveries = 1
                where workspace_id = ${w!.id} and kind = 'create_workspace'`;
      return w!.id as string;
    });
    await as(
      admin,
      'authenticated',
      { sub: machine.owner },
      (tx) => tx`select public.stop_workspace(${workspaceId}, 'not needed after all')`,
    );
    await waitFor('the workspace to end', async () => {
      const [w] = await admin`select status from public.workspaces where id = ${workspaceId}`;
      return w?.status !== 'stopping';
    });
    const [w] = await admin`select status from public.workspaces where id = ${workspaceId}`;
    expect(w!.status).toBe('stopped');
    const [stop] =
      await admin`select status, result from public.node_commands where workspace_id = ${workspaceId} and kind = 'stop_workspace'`;
    expect(stop).toMatchObject({ status: 'done', result: { running: false } });
    const [event] = await admin`select reason from public.lifecycle_events
      where entity = 'workspace' and entity_id = ${workspaceId} and to_state = 'stopped'`;
    expect(event!.reason).toBe('not running on its machine');
    // The machine's own workspace is untouched.
    expect(agent.workspaces.size).toBe(1);
    expect(agent.workspaces.has(workspaceId)).toBe(false);
    expect(lines.filter((l) => l.includes('not running on this machine'))).toEqual([]);
  }, 90_000);

  it('fails the task with a clear error when the owner stored no credential for the agent (none on the machine counts)', async () => {
    const admin = stack.db.admin;
    const bin = await mkdtemp(path.join(tmpdir(), 'sam-bin-'));
    cleanups.push(() => rm(bin, { recursive: true, force: true }));
    await writeFile(path.join(bin, 'claude-code-acp'), '#!/bin/sh\nexit 1\n');
    await chmod(path.join(bin, 'claude-code-acp'), 0o755);
    const machine = await machineFor('Refactor the upload handler', { agentType: 'claude-code' });
    const { agent } = nodeAgent(machine, stack.functionUrl('vm-agent'), {
      // A key in the machine's environment is not the user's: the session start decides.
      machineEnv: { PATH: `${bin}:${process.env.PATH}`, HOME: process.env.HOME, ANTHROPIC_API_KEY: 'sk-machine' },
    });
    await agent.start();
    const failed = await settled(admin, machine.task.taskId);
    expect(failed).toMatchObject({ status: 'failed', workspace_status: 'failed', node_status: 'warm' });
    expect(failed.error_message).toBe('workspace failed: Claude Code needs an Anthropic key: add one in Settings');
    // The refusal rolled the session start back: no agent session, no agent token.
    const sessions = await admin`select id from public.agent_sessions where task_id = ${machine.task.taskId}`;
    expect(sessions).toEqual([]);
    const messages = await chatMessages(admin, machine.task.sessionId);
    expect(messages.find((m) => m.message_id === 'task-failed')?.content).toContain(
      'Claude Code needs an Anthropic key: add one in Settings',
    );
  }, 60_000);
});
