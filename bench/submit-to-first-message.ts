/**
 * Submit → first streamed message, as a user sees it: a supabase-js client calls `submit_task`
 * and follows the task's private `session:<id>` channel (re-reading after the join, as the chat
 * does); the clock stops when the first agent message (thought, assistant, tool or plan) arrives.
 * Everything between is real: PostgREST, pg_net waking the orchestrator under Deno, the local
 * provider starting a vm-agent process, registration, the command long-poll, clone and branch,
 * the demo agent over ACP, the outbox, the vm-agent function, the broadcast trigger, Realtime.
 *
 *   cold: a user with no warm node — a new node (a new vm-agent process) per run.
 *   warm: a user whose node is warm from the previous task — claimed, no provisioning.
 *
 *   npx tsx bench/submit-to-first-message.ts            # print results
 *   npx tsx bench/submit-to-first-message.ts --record   # also write bench/results/submit-to-first-message.md
 *
 * Needs the database cluster (`scripts/sam db start`). One warm-up task first boots the functions'
 * Deno processes, so their first start is not counted in either series.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { paths } from '../supabase/local/paths.ts';
import { startFunctionsStack, type RunningFunctionsStack } from '../tests/helpers/local-stack.ts';
import { makeWorkingRepo, UserClient } from '../tests/helpers/user-client.ts';
import setupTemplate from '../tests/setup/global.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const RUN_TIMEOUT_MS = 120_000;

/** Where the time went, from the database's own timestamps (ms after the task row was created). */
interface Phases {
  commandDelivered: number;
  workspaceReady: number;
  sessionStarted: number;
  firstMessageStored: number;
}

interface Sample {
  firstMessageMs: number;
  phases: Phases;
  /** Submit → the node registered (cold only). */
  registeredMs?: number;
}

function percentile(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

function summary(values: number[]) {
  return {
    p50: percentile(values, 0.5),
    p95: percentile(values, 0.95),
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${RUN_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One task: submit, time to the first agent message, then wait for the run to end (node warm). */
async function runTask(stack: RunningFunctionsStack, user: UserClient, projectId: string, n: number): Promise<Sample> {
  const t0 = performance.now();
  const submittedAt = Date.now();
  const { taskId, sessionId } = await user.submit(projectId, `add a greeting to README (run ${n})`);
  const watch = await user.watch(sessionId);
  await watch.until((w) => w.firstAgentMessageAt !== null, RUN_TIMEOUT_MS, 'the first agent message');
  const firstMessageMs = watch.firstAgentMessageAt! - t0;
  await watch.leave();
  const [p] = await stack.db.admin`
    select (select n.agent_ready_at from public.nodes n where n.id = t.node_id) as registered_at,
           extract(epoch from (select c.delivered_at from public.node_commands c
                                where c.workspace_id = t.workspace_id and c.kind = 'create_workspace') - t.created_at) * 1000
             as command_delivered,
           extract(epoch from (select min(e.created_at) from public.lifecycle_events e
                                where e.entity = 'workspace' and e.entity_id = t.workspace_id and e.to_state = 'ready')
                   - t.created_at) * 1000 as workspace_ready,
           extract(epoch from (select min(a.created_at) from public.agent_sessions a where a.task_id = t.id)
                   - t.created_at) * 1000 as session_started,
           extract(epoch from (select min(m.created_at) from public.messages m
                                where m.session_id = t.chat_session_id and m.role in ('assistant', 'thought', 'tool', 'plan'))
                   - t.created_at) * 1000 as first_message_stored
      from public.tasks t where t.id = ${taskId}`;
  const registered = p!.registered_at as Date | null;
  const phases: Phases = {
    commandDelivered: Number(p!.command_delivered),
    workspaceReady: Number(p!.workspace_ready),
    sessionStarted: Number(p!.session_started),
    firstMessageStored: Number(p!.first_message_stored),
  };
  await until(async () => {
    const [t] = await stack.db.admin`
      select t.status, n.status as node_status from public.tasks t join public.nodes n on n.id = t.node_id
       where t.id = ${taskId}`;
    return t?.status === 'completed' && t.node_status === 'warm';
  }, `task ${taskId} to complete and its node to go warm`);
  return {
    firstMessageMs,
    phases,
    ...(registered && registered.getTime() >= submittedAt ? { registeredMs: registered.getTime() - submittedAt } : {}),
  };
}

async function newUser(stack: RunningFunctionsStack): Promise<{ user: UserClient; projectId: string }> {
  const user = await UserClient.signUp(stack.url, stack.publishableKey);
  const projectId = await user.createProject(makeWorkingRepo('bench'));
  return { user, projectId };
}

/** Destroys the user's nodes and waits for their machines to go (keeps the host at one machine). */
async function retireNodes(stack: RunningFunctionsStack, userId: string): Promise<void> {
  await stack.db.admin`
    select public.destroy_node(id, 'benchmark run over') from public.nodes
     where owner_id = ${userId} and status not in ('destroying', 'destroyed')`;
  await until(async () => stack.machines.machines().length === 0, 'the machines to be deleted');
}

async function main(): Promise<void> {
  await setupTemplate();
  const stack = await startFunctionsStack('bench_first_message', { allServices: true, machines: {} });
  try {
    console.log('warm-up (boots the functions)…');
    const warmup = await newUser(stack);
    await runTask(stack, warmup.user, warmup.projectId, 0);
    await retireNodes(stack, warmup.user.userId);
    await warmup.user.close();

    const cold: Sample[] = [];
    for (let i = 1; i <= RUNS; i++) {
      const { user, projectId } = await newUser(stack);
      cold.push(await runTask(stack, user, projectId, i));
      console.log(`cold ${i}/${RUNS}: ${cold.at(-1)!.firstMessageMs.toFixed(0)} ms`);
      await retireNodes(stack, user.userId);
      await user.close();
    }

    const { user, projectId } = await newUser(stack);
    await runTask(stack, user, projectId, 0); // makes the node warm
    const warm: Sample[] = [];
    for (let i = 1; i <= RUNS; i++) {
      warm.push(await runTask(stack, user, projectId, i));
      console.log(`warm ${i}/${RUNS}: ${warm.at(-1)!.firstMessageMs.toFixed(0)} ms`);
    }
    const [nodes] = await stack.db.admin`select count(*)::int as n from public.nodes where owner_id = ${user.userId}`;
    if (nodes!.n !== 1) throw new Error(`the warm series used ${nodes!.n} nodes, expected 1`);
    await user.close();

    const c = summary(cold.map((s) => s.firstMessageMs));
    const w = summary(warm.map((s) => s.firstMessageMs));
    const reg = cold.flatMap((s) => (s.registeredMs === undefined ? [] : [s.registeredMs]));
    const r = reg.length ? summary(reg) : null;
    const fmt = (x: { p50: number; p95: number; min: number; max: number }) =>
      `| ${x.p50.toFixed(0)} | ${x.p95.toFixed(0)} | ${x.min.toFixed(0)} | ${x.max.toFixed(0)} |`;
    const median = (samples: Sample[], key: keyof Phases) =>
      percentile(
        samples.map((x) => x.phases[key]),
        0.5,
      );
    const phaseRow = (label: string, key: keyof Phases) =>
      `| ${label} | ${median(cold, key).toFixed(0)} | ${median(warm, key).toFixed(0)} |`;
    const phases = [
      '| after the task row is created (ms, median) | cold | warm |',
      '|---|---|---|',
      phaseRow('`create_workspace` delivered to the machine', 'commandDelivered'),
      phaseRow('workspace ready (cloned, branch checked out)', 'workspaceReady'),
      phaseRow('agent session started', 'sessionStarted'),
      phaseRow('first agent message stored', 'firstMessageStored'),
    ].join('\n');
    const table = [
      '| series (ms) | p50 | p95 | min | max |',
      '|---|---|---|---|---|',
      `| cold: submit → first agent message | ${fmt(c).slice(2)}`,
      `| warm: submit → first agent message | ${fmt(w).slice(2)}`,
      ...(r ? [`| cold: submit → node registered | ${fmt(r).slice(2)}`] : []),
    ].join('\n');
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} at the end`;
    console.log(`\n${table}\n\n${phases}\n\n${RUNS} runs each; ${machine}`);
    if (process.argv.includes('--record')) {
      writeFileSync(
        join(paths.root, 'bench', 'results', 'submit-to-first-message.md'),
        `# Submit → first streamed message\n\n` +
          `Recorded ${new Date().toISOString()} by \`bench/submit-to-first-message.ts\` (${RUNS} runs per series; ${machine}).\n` +
          `Rerun: \`npx tsx bench/submit-to-first-message.ts --record\` (cluster running: \`scripts/sam db start\`).\n\n` +
          `${table}\n\nWhere the time goes (database timestamps; the client sees a message a few ms after it is stored):\n\n${phases}\n\n` +
          `The clock starts before the user's \`submit_task\` call and stops when the user's supabase-js client holds the ` +
          `first agent message (live on \`session:<id>\`, or from the re-read right after joining). Demo agent at its ` +
          `default pace (5 ms between updates). Each cold run is a new user, so no warm node exists: the run includes ` +
          `pg_net waking the orchestrator, the local provider starting a vm-agent process (Node + tsx), registration, ` +
          `the command long-poll, clone, branch and the agent's start. Warm runs claim the node the previous task left warm.\n\n` +
          `Reading the phases: most of the time after the session starts is the agent's own start — a Node process ` +
          `loading the demo agent through tsx (≈0.7 s measured alone), ACP initialize and session/new — then up to ` +
          `250 ms of thought coalescing in the recorder and the outbox's 300 ms batching delay. The warm command ` +
          `delivery includes the long-poll's 500 ms re-check interval (the function polls; LISTEN does not pass a ` +
          `transaction pooler). Those three are the levers if this number matters more than request volume.\n`,
      );
      console.log('recorded bench/results/submit-to-first-message.md');
    }
  } finally {
    await stack.close();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
