/**
 * The whole stack stops for 60 seconds in the middle of a task, as when the operator stops
 * `npm start` and starts it again: the machine host (its vm-agents get SIGTERM and suspend), then
 * the services (functions, PostgREST, Realtime, Auth, pg_net) — only the database stays. A minute
 * later the host starts again over the same machines directory and the services again on the same
 * port. The vm-agent resumes the workspace, loads the agent's session, asks it to continue, and
 * the task completes; every message is stored once, and the user's client (connected throughout,
 * reconnecting by itself) holds exactly the stored rows, each once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it, onTestFailed } from 'vitest';
import { startMachineHost, type MachineHost } from '../../local-machines/host.ts';
import { connectionUrl } from '../../supabase/local/postgres/cluster.ts';
import { startLocalStack, type LocalStack } from '../../supabase/local/server.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { processAlive } from '../helpers/processes.ts';
import { makeWorkingRepo, UserClient, type SessionWatch } from '../helpers/user-client.ts';
import { waitFor } from '../helpers/wait.ts';

const OUTAGE_MS = 60_000;
const AGENT_ENV = { SAM_DEMO_AGENT_DELAY_MS: '40' };
const stack = useFunctionsStack('stack_restart', { allServices: true, machines: { agentEnv: AGENT_ENV } });
let user: UserClient | undefined;
/** What this test started again (the first stack's own close stops the rest). */
const restarted: { host?: MachineHost; services?: LocalStack; runtimeDir?: string } = {};

afterAll(async () => {
  await user?.close();
  await restarted.host?.close();
  await restarted.services?.close();
  if (restarted.runtimeDir) rmSync(restarted.runtimeDir, { recursive: true, force: true });
});

const markers = (texts: string[]) => [...texts.join('').matchAll(/\[#(\d+)\]/g)].map((m) => Number(m[1]));
const seen = (watch: SessionWatch) =>
  markers(
    watch
      .ordered()
      .filter((m) => m.role === 'thought')
      .map((m) => m.content),
  );

it('completes a task after the whole stack stopped for 60 s mid-task, every message once', async () => {
  onTestFailed(() => {
    for (const dir of readdirSync(stack.machines.baseDir)) {
      const log = join(stack.machines.baseDir, dir, 'vm-agent.log');
      if (existsSync(log)) console.log(`--- ${dir}/vm-agent.log\n${readFileSync(log, 'utf8')}`);
    }
  });
  user = await UserClient.signUp(stack.url, stack.publishableKey);
  const projectId = await user.createProject(makeWorkingRepo('restart'));
  const prompt = 'note the restart drill in NOTES.md [stream:3000]';
  const { taskId, sessionId } = await user.submit(projectId, prompt);
  const watch = await user.watch(sessionId);
  await watch.until((w) => seen(w).length >= 30, 120_000, 'the first 30 chunks');

  // Stop everything but the database, as `npm start` stops: the machines first, then the services.
  const host = stack.machines;
  const [machine] = host.machines();
  const hostPort = host.port;
  const port = stack.stack.port;
  await host.close();
  await stack.stack.close();
  const stoppedAt = Date.now();
  expect(processAlive(machine!.pid!)).toBe(false);
  await expect(fetch(`${stack.url}/health`)).rejects.toThrow();
  // Suspended, not failed: the task waits for its machine.
  const during = async () =>
    (await stack.db.admin`select status, execution_step from public.tasks where id = ${taskId}`)[0]!;
  expect((await during()).status).toBe('in_progress');

  // The outage itself: a minute of wall-clock time is what this scenario is about.
  await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS - (Date.now() - stoppedAt)));
  expect((await during()).status).toBe('in_progress');

  // Started again as `npm start` starts: the machine host over the same directory, then the services.
  restarted.host = await startMachineHost({
    baseDir: host.baseDir,
    token: process.env.SAM_LOCAL_MACHINES_TOKEN!,
    port: hostPort,
    agentEnv: AGENT_ENV,
  });
  restarted.runtimeDir = mkdtempSync(join(tmpdir(), 'sam-stack-'));
  restarted.services = await startLocalStack({
    port,
    emailConfirmation: false,
    database: stack.db.name,
    databaseUrl: (role) => connectionUrl(stack.db.cluster, role, stack.db.name),
    runtimeDir: restarted.runtimeDir,
  });
  expect(restarted.host.machines().map((m) => m.id)).toEqual([machine!.id]);

  await waitFor('the task to complete', async () => (await user!.task(taskId)).status === 'completed', 240_000);
  // Every row is stored once the session stopped (the vm-agent drains its outbox first).
  await waitFor(
    'the agent session to stop',
    async () => {
      const [s] = await stack.db.admin`
        select status::text as status from public.agent_sessions where chat_session_id = ${sessionId}`;
      return s?.status === 'stopped';
    },
    60_000,
  );
  await watch.catchUp();

  const rows = await stack.db.admin`
    select id, message_id, role::text as role, content, tool_metadata
      from public.messages where session_id = ${sessionId} order by id`;
  // The user's message once; the chunks the agent streamed before the stop, 1…k, each once.
  expect(rows.filter((r) => r.role === 'user').map((r) => r.content)).toEqual([prompt]);
  const streamed = markers(rows.filter((r) => r.role === 'thought').map((r) => r.content as string));
  expect(streamed.length).toBeGreaterThanOrEqual(30);
  expect(streamed).toEqual(streamed.map((_, i) => i + 1));
  // Resumed once (the agent asked to continue), and a planned stop is no crash.
  const events = rows.map((r) => (r.tool_metadata as { event?: string } | null)?.event);
  expect(events.filter((e) => e === 'session_resumed')).toHaveLength(1);
  expect(events.filter((e) => e === 'session_loaded')).toHaveLength(1);
  expect(events.filter((e) => e === 'crash_report')).toHaveLength(0);
  // The client that stayed subscribed holds exactly the stored rows.
  expect([...watch.messages.keys()].sort((a, b) => a - b)).toEqual(rows.map((r) => Number(r.id)));
  expect(seen(watch)).toEqual(streamed);
  // And the work went on to the end: the note was pushed.
  await waitFor(
    'the push to be recorded',
    async () => {
      const [t] = await stack.db.admin`
        select completion_evidence #>> '{gitPush,pushed}' as pushed from public.tasks where id = ${taskId}`;
      return t!.pushed === 'true';
    },
    60_000,
  );
}, 480_000);
