/**
 * A machine goes silent mid-task: its vm-agent is SIGSTOPped (a hung VM, a cut network) while the
 * demo agent streams. With short heartbeat settings (every second; unhealthy after 5 s; given up
 * after 10 s) the dead-heartbeat sweep — what pg_cron runs every minute, called here as it would
 * be — marks the node unhealthy, then fails its workspace and the task with a sentence that names
 * the machine, when it was last heard from and what to do; the user's chat gets that sentence live.
 */
import { afterAll, expect, it, onTestFailed } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { processAlive } from '../helpers/processes.ts';
import { makeWorkingRepo, UserClient, type SessionWatch } from '../helpers/user-client.ts';
import { waitFor } from '../helpers/wait.ts';

const stack = useFunctionsStack('silent_node', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '40' } },
});
let user: UserClient | undefined;
let stopped: number | undefined;

afterAll(async () => {
  // Woken again, so that the host can stop it as usual.
  if (stopped && processAlive(stopped)) process.kill(stopped, 'SIGCONT');
  await user?.close();
});

/** `text` as a regular expression matching itself (node names are the task's title). */
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const thoughts = (w: SessionWatch) => w.ordered().filter((m) => m.role === 'thought').length;

it("fails a silent machine's task in words the user sees in the chat", async () => {
  onTestFailed(() => {
    for (const dir of readdirSync(stack.machines.baseDir)) {
      const log = join(stack.machines.baseDir, dir, 'vm-agent.log');
      if (existsSync(log)) console.log(`--- ${dir}/vm-agent.log\n${readFileSync(log, 'utf8')}`);
    }
  });
  const admin = stack.db.admin;
  await admin`update public.settings set value = '"1 second"' where key = 'heartbeat_interval'`;
  await admin`update public.settings set value = '"5 seconds"' where key = 'heartbeat_stale'`;
  await admin`update public.settings set value = '"10 seconds"' where key = 'heartbeat_dead'`;

  user = await UserClient.signUp(stack.url, stack.publishableKey);
  const projectId = await user.createProject(makeWorkingRepo('silent'));
  const { taskId, sessionId } = await user.submit(projectId, 'note the silence in NOTES.md [stream:5000]');
  const watch = await user.watch(sessionId);
  await watch.until((w) => thoughts(w) >= 5, 120_000, 'the agent streaming');

  // Heartbeating: the sweep leaves a live machine alone.
  const [node] = await admin`select node_id from public.tasks where id = ${taskId}`;
  await admin`select public.sweep_stale_heartbeats()`;
  const [before] = await admin`select status::text as s from public.nodes where id = ${node!.node_id}`;
  expect(['ready', 'active']).toContain(before!.s);

  const [machine] = stack.machines.machines();
  stopped = machine!.pid!;
  process.kill(stopped, 'SIGSTOP');

  const failed = await waitFor(
    'the task to fail',
    async () => {
      await admin`select public.sweep_stale_heartbeats()`;
      const [t] = await admin`select status::text as status, error_message from public.tasks where id = ${taskId}`;
      return t!.status === 'failed' ? t! : null;
    },
    90_000,
    1000,
  );
  const [n] = await admin`select name, status::text as status from public.nodes where id = ${node!.node_id}`;
  expect(n!.status).toBe('unhealthy');
  expect(failed.error_message).toMatch(
    new RegExp(
      `^The machine ${escape(n!.name as string)} stopped sending heartbeats at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC ` +
        `and has been silent for \\d\\d:\\d\\d:\\d\\d; the work on it is lost\\. Re-run the task to start again\\.$`,
    ),
  );
  const [w] = await admin`select w.status::text as status from public.workspaces w
                             join public.tasks t on t.workspace_id = w.id where t.id = ${taskId}`;
  expect(w!.status).toBe('failed');

  // The chat says so, live.
  await watch.until(
    (x) => x.ordered().some((m) => m.role === 'system' && m.content.includes('stopped sending heartbeats')),
    30_000,
    'the failure in the chat',
  );
  const said = watch.ordered().find((m) => m.role === 'system' && m.content.includes('stopped sending heartbeats'))!;
  expect(said.content).toMatch(/^Task failed at step "[a-z_]+": The machine /);
  expect(said.content.endsWith(failed.error_message as string)).toBe(true);
}, 300_000);
