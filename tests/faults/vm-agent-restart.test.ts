/**
 * The vm-agent process itself dies, against the real functions: `node vm-agent/bin.mjs <dir>` as
 * the local provider runs it.
 *
 * - SIGKILL mid-stream: a new vm-agent on the same machine directory resumes with the node token
 *   and workspace state the first one kept (0600), loads the agent's session again, files a crash
 *   report attributed to the workspace runner and waits for a follow-up; every chunk the agent
 *   streamed before the kill is stored exactly once (the outbox delivers what it kept, the
 *   database ignores repeats), and the follow-up's stream arrives whole, exactly once.
 * - SIGTERM mid-stream (a planned stop, as when the stack stops): the vm-agent suspends without
 *   failing the task; started again after the pause, it loads the session, asks the agent to
 *   continue, and the task completes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it, onTestFailed } from 'vitest';
import { crashReportOf, toChatMessage, type MessageRow } from '../../functions/_shared/common/contracts/messages.ts';
import { as } from '../helpers/control-plane.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { chatMessages, prepareMachine, taskView, waitFor, type PreparedMachine } from '../vm-agent-node/harness.ts';

const BIN = fileURLToPath(new URL('../../vm-agent/bin.mjs', import.meta.url));
const stack = useFunctionsStack('vm_agent_restart');
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function runMachine(machine: PreparedMachine): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, machine.dir], {
    cwd: machine.dir,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (t: string) => (output += t));
  child.stderr!.setEncoding('utf8').on('data', (t: string) => (output += t));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  onTestFailed(() => console.log(`vm-agent ${child.pid} output:\n${output}`));
  return { child, exited };
}

/** The `[#N]` numbers of the session's thought rows, per turn (split at the turn-end events). */
async function streamed(sessionId: string): Promise<number[][]> {
  const turns: number[][] = [[]];
  for (const m of await chatMessages(stack.db.admin, sessionId)) {
    if (m.role === 'thought') turns.at(-1)!.push(...[...m.content.matchAll(/\[#(\d+)\]/g)].map((x) => Number(x[1])));
    if (m.role === 'system' && ['turn_end', 'turn_error', 'crash_report'].includes(String(m.tool_metadata?.event))) {
      if (turns.at(-1)!.length > 0) turns.push([]);
    }
  }
  return turns.filter((t) => t.length > 0);
}

const sessionStatus = async (taskId: string) =>
  (await stack.db.admin`select status from public.agent_sessions where task_id = ${taskId}`)[0]?.status as string;

it('resumes after SIGKILL of the vm-agent mid-stream: the session is loaded again and every message arrives exactly once', async () => {
  const machine = await prepareMachine(
    stack.db.admin,
    stack.functionUrl('vm-agent'),
    'Note the restart drill in NOTES.md [stream:3000]',
    {},
    { SAM_DEMO_AGENT_DELAY_MS: '5' },
  );
  cleanups.push(() => machine.cleanup());
  const first = runMachine(machine);
  await waitFor(
    'chunks to be stored',
    async () => ((await streamed(machine.task.sessionId))[0]?.length ?? 0) >= 40,
    120_000,
  );
  // The identity and the workspace are on disk, readable by the machine's user only.
  expect((await stat(path.join(machine.dir, 'state', 'node.json'))).mode & 0o777).toBe(0o600);
  first.child.kill('SIGKILL');
  await first.exited;

  runMachine(machine);
  const t = await waitFor(
    'the task to wait for a follow-up',
    async () => {
      const v = await taskView(stack.db.admin, machine.task.taskId);
      return v.execution_step === 'awaiting_followup' ? v : null;
    },
    120_000,
  );
  expect(t.status).toBe('in_progress');
  // The report rides the outbox: it is stored once the batch holding it lands.
  const reports = await waitFor('the crash report', async () => {
    const rows = (await stack.db.admin`
      select id, message_id, role, content, tool_call_id, tool_status, tool_metadata, origin, produced_at, created_at
        from public.messages where session_id = ${machine.task.sessionId} order by id`) as unknown as MessageRow[];
    const found = rows.map((r) => crashReportOf(toChatMessage(r))).filter((r) => r !== null);
    return found.length > 0 ? found : null;
  });
  expect(reports).toHaveLength(1);
  expect(reports[0]).toMatchObject({ recovered: true, attribution: 'workspace_runner', agentType: 'demo' });
  // One agent session throughout: resumed, not replaced.
  expect(
    (
      await stack.db.admin`select count(*)::int as n from public.agent_sessions where task_id = ${machine.task.taskId}`
    )[0]!.n,
  ).toBe(1);

  await as(
    stack.db.admin,
    'authenticated',
    { sub: machine.owner },
    (tx) => tx`select public.post_message(${machine.task.sessionId}, 'carry on [stream:200]')`,
  );
  await waitFor(
    'the task to complete',
    async () => (await taskView(stack.db.admin, machine.task.taskId)).status === 'completed',
    180_000,
  );
  const turns = await streamed(machine.task.sessionId);
  expect(turns).toHaveLength(2);
  // Before the kill: 1…k, each once (k = what the outbox had kept). After: 1…200, each once.
  expect(turns[0]).toEqual(turns[0]!.map((_, i) => i + 1));
  expect(turns[1]).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
}, 420_000);

it('suspends on SIGTERM mid-stream and, started again after a pause, continues until the task completes', async () => {
  const machine = await prepareMachine(
    stack.db.admin,
    stack.functionUrl('vm-agent'),
    'Note the planned stop in NOTES.md [stream:3000]',
    {},
    { SAM_DEMO_AGENT_DELAY_MS: '5' },
  );
  cleanups.push(() => machine.cleanup());
  const first = runMachine(machine);
  await waitFor(
    'the agent to be prompting',
    async () => (await sessionStatus(machine.task.taskId)) === 'prompting',
    120_000,
  );
  await waitFor(
    'chunks to be stored',
    async () => ((await streamed(machine.task.sessionId))[0]?.length ?? 0) >= 20,
    120_000,
  );
  first.child.kill('SIGTERM');
  expect(await first.exited).toBe(0);
  // Suspended, not failed.
  expect((await taskView(stack.db.admin, machine.task.taskId)).status).toBe('in_progress');

  runMachine(machine);
  await waitFor(
    'the task to complete',
    async () => (await taskView(stack.db.admin, machine.task.taskId)).status === 'completed',
    240_000,
  );
  const messages = await chatMessages(stack.db.admin, machine.task.sessionId);
  expect(messages.some((m) => m.tool_metadata?.event === 'session_resumed')).toBe(true);
  expect(messages.some((m) => m.tool_metadata?.event === 'session_loaded')).toBe(true);
}, 420_000);
