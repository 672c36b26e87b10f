/**
 * The vm-agent's node loop (in-process) against the real vm-agent function under Deno, when what
 * travels between them gets lost or goes stale: poll answers and acknowledgements that never
 * arrive (commands are delivered at least once and applied once), and tokens that lapse while the
 * machine works (the node token is renewed, workspace tokens refreshed by the heartbeat; nothing is
 * dead-lettered).
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { NodeAgent, type NodeAgentOptions } from '../../vm-agent/node/node-agent.ts';
import { DEAD_LETTER_FILE } from '../../vm-agent/outbox/outbox.ts';
import { as } from '../helpers/control-plane.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { chatMessages, LOCAL_REPOSITORIES, prepareMachine, settled, waitFor, type PreparedMachine } from './harness.ts';

const stack = useFunctionsStack('vm_agent_resilience');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/**
 * A fetch that loses requests on the way out (`request`: the server never sees them) or answers on
 * the way back (`answer`: the server did its part), as a cut connection does.
 */
function losingFetch(lose: {
  request?: (path: string) => boolean;
  answer?: (path: string, answer: string) => boolean;
}): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const path = new URL(request.url).pathname;
    if (lose.request?.(path)) throw new TypeError('fetch failed: connection reset');
    const res = await fetch(request);
    const answer = await res.text();
    if (lose.answer?.(path, answer)) throw new TypeError('fetch failed: connection reset');
    return new Response(answer, { status: res.status, headers: res.headers });
  };
}

function nodeAgent(machine: PreparedMachine, extra: Partial<NodeAgentOptions> = {}) {
  const lines: string[] = [];
  const agent = new NodeAgent({
    machineDir: machine.dir,
    controlPlaneUrl: stack.functionUrl('vm-agent'),
    bootstrapToken: machine.bootstrapToken,
    agentVersion: 'sam-vm-agent/test',
    agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '1' },
    machineEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
    dockerAvailable: async () => false,
    repositoryPolicy: LOCAL_REPOSITORIES,
    backoff: { initialMs: 100, maxMs: 500 },
    outboxFlushDelayMs: 50,
    pollWaitSeconds: 2,
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

async function setting(key: string, value: string) {
  const admin = stack.db.admin;
  const [old] = await admin`select value from public.settings where key = ${key}`;
  await admin`update public.settings set value = ${JSON.stringify(value)}::jsonb where key = ${key}`;
  cleanups.push(() => admin`update public.settings set value = ${old!.value} where key = ${key}`);
}

const turnsEnded = async (sessionId: string) =>
  (await chatMessages(stack.db.admin, sessionId)).filter((m) => m.tool_metadata?.event === 'turn_end').length;

describe('commands delivered at least once', () => {
  it('gets a create_workspace command again when the poll answer carrying it was lost, and runs the task once', async () => {
    const admin = stack.db.admin;
    await setting('node_command_lease', '2 seconds');
    const machine = await machineFor('Add a greeting to README.md');
    let lost = 0;
    const { agent, lines } = nodeAgent(machine, {
      fetch: losingFetch({
        answer: (path, answer) =>
          path.endsWith('/nodes/commands') && answer.includes('create_workspace') && lost++ === 0,
      }),
    });
    await agent.start();
    const done = await settled(admin, machine.task.taskId);
    expect(done).toMatchObject({ status: 'completed', workspace_status: 'stopped' });
    expect(lost).toBeGreaterThan(1);
    const [cmd] = await admin`
      select status, deliveries from public.node_commands where node_id = ${machine.nodeId} and kind = 'create_workspace'`;
    expect(cmd).toMatchObject({ status: 'done', deliveries: 2 });
    expect(lines.filter((l) => /^workspace [0-9a-f-]{36} for task/.test(l))).toHaveLength(1);
  }, 150_000);

  it('applies a prompt once when its acknowledgement is lost and the command comes again', async () => {
    const admin = stack.db.admin;
    await setting('node_command_lease', '1 second');
    const machine = await machineFor('Start a changelog in CHANGES.md', { taskMode: 'conversation' });
    const seen = new Map<string, number>();
    let promptId: string | null = null;
    const { agent, lines } = nodeAgent(machine, {
      fetch: losingFetch({
        answer: (path, answer) => {
          if (path.endsWith('/nodes/commands')) {
            const { commands } = JSON.parse(answer) as { commands: { id: string; kind: string }[] };
            for (const c of commands.filter((c) => c.kind === 'prompt')) {
              promptId = c.id;
              seen.set(c.id, (seen.get(c.id) ?? 0) + 1);
            }
          }
          return false;
        },
        // Acknowledgements of the prompt are lost until the command was handed out a second time.
        request: (path) =>
          promptId !== null && path.endsWith(`/commands/${promptId}/ack`) && (seen.get(promptId) ?? 0) < 2,
      }),
    });
    await agent.start();
    await waitFor('the first turn', async () => (await turnsEnded(machine.task.sessionId)) >= 1);
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
    await waitFor('the prompt command to be acknowledged', async () => {
      const [c] =
        await admin`select status from public.node_commands where node_id = ${machine.nodeId} and kind = 'prompt'`;
      return c?.status === 'done';
    });
    const [cmd] =
      await admin`select deliveries, result from public.node_commands where node_id = ${machine.nodeId} and kind = 'prompt'`;
    expect(cmd!.deliveries).toBeGreaterThanOrEqual(2);
    expect(cmd!.result).toMatchObject({ queued: true });
    await waitFor('the follow-up turn', async () => (await turnsEnded(machine.task.sessionId)) >= 2);
    await waitFor('the session to be idle again', async () => {
      const [s] = await admin`select status from public.agent_sessions where task_id = ${machine.task.taskId}`;
      return s?.status === 'idle';
    });
    const [t] = await admin`select workspace_id from public.tasks where id = ${machine.task.taskId}`;
    const file = path.join(machine.dir, 'workspaces', t!.workspace_id as string, 'repo', 'CHANGES.md');
    expect(await readFile(file, 'utf8')).toBe(
      '- Start a changelog in CHANGES.md\n- Also mention the fix in CHANGES.md\n',
    );
    expect(await turnsEnded(machine.task.sessionId)).toBe(2);
    expect(lines).toContainEqual(expect.stringMatching(/already applied/));
  }, 150_000);
});

describe('tokens that lapse while the machine works', () => {
  it('renews the node token and refreshes the workspace token, and delivers every message of the next turn', async () => {
    const admin = stack.db.admin;
    const machine = await machineFor('Start a changelog in CHANGES.md', { taskMode: 'conversation' });
    const { agent, lines } = nodeAgent(machine, { heartbeatIntervalMs: 500 });
    await agent.start();
    await waitFor('the first turn', async () => (await turnsEnded(machine.task.sessionId)) >= 1);
    await waitFor('the agent session to be idle', async () => {
      const [s] = await admin`select status from public.agent_sessions where task_id = ${machine.task.taskId}`;
      return s?.status === 'idle';
    });
    // Long work: the node's and the workspace's tokens lapse (an outage longer than their lifetime).
    await admin`update public.tokens set expires_at = now() - interval '1 minute'
                 where node_id = ${machine.nodeId} and kind in ('node', 'workspace') and revoked_at is null`;
    await as(
      admin,
      'authenticated',
      { sub: machine.owner },
      (tx) => tx`select public.post_message(${machine.task.sessionId}, 'Also mention the fix in CHANGES.md')`,
    );
    await waitFor('the follow-up turn', async () => (await turnsEnded(machine.task.sessionId)) >= 2, 60_000);
    expect(lines).toContainEqual(expect.stringMatching(/node token renewed/));
    const [t] = await admin`select workspace_id from public.tasks where id = ${machine.task.taskId}`;
    const outbox = path.join(machine.dir, 'workspaces', t!.workspace_id as string, 'outbox');
    await expect(access(path.join(outbox, DEAD_LETTER_FILE))).rejects.toThrow();
    const [s] = await admin`select status from public.agent_sessions where task_id = ${machine.task.taskId}`;
    expect(s!.status).not.toBe('failed');
  }, 150_000);

  it('stops for good when the node token is revoked', async () => {
    const admin = stack.db.admin;
    const machine = await machineFor('Add a greeting to README.md', { taskMode: 'conversation' });
    const { agent } = nodeAgent(machine, { heartbeatIntervalMs: 500 });
    await agent.start();
    await waitFor('the first turn', async () => (await turnsEnded(machine.task.sessionId)) >= 1);
    await admin`update public.tokens set revoked_at = now() where node_id = ${machine.nodeId} and kind = 'node'`;
    expect(await agent.stopped).toBe('token_revoked');
  }, 150_000);
});
