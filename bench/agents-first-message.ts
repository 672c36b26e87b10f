/**
 * Submit → first agent message with each real agent (Claude Code, Codex, Gemini CLI, OpenCode),
 * offline against the scripted model server, as bench/submit-to-first-message.ts measures it for
 * the demo agent: a supabase-js client with the agent's key stored through the credentials
 * function calls `submit_task` and follows `session:<id>`; the clock stops when the first agent
 * message (thought, assistant, tool or plan) arrives. The model's script is one text answer.
 *
 *   cold: a new user, so a new machine (vm-agent process), whose agent cache does not hold the
 *         agent (its install directory is removed before the run) while npm's own cache
 *         (`<agent cache>/.npm`) holds the package tarballs: the run includes `npm install`
 *         (with npm's usual registry metadata check) and the agent's first start in a fresh HOME.
 *   warm: the same user's next task: the node left warm by the previous task (same agent) is
 *         claimed, the agent is installed; only the agent process is new (one per session).
 *
 * Where the time goes comes from the database's timestamps and the vm-agent's log lines
 * `agent start timings {…}` (install, spawn, initialize, session/new) and `agent first update {…}`
 * (prompt sent → first shown update), all on this host's clock.
 *
 *   npx tsx bench/agents-first-message.ts                 # print results
 *   npx tsx bench/agents-first-message.ts --record        # also write bench/results/agents-first-message.md
 *   BENCH_RUNS=3 BENCH_AGENTS=claude-code,codex npx tsx bench/agents-first-message.ts
 *
 * Needs the database cluster (`scripts/sam db start`) and, on the first run, the npm registry (each
 * agent is installed once into BENCH_AGENT_CACHE before its series; later runs reuse npm's cache).
 */
import { rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { AGENT_PACKAGES } from '../vm-agent/agents/manifest.ts';
import { ScriptedModel } from '../tests/fakes/models/scripted-model.ts';
import { createAgentProject } from '../tests/e2e-agents/support.ts';
import { startFunctionsStack, type RunningFunctionsStack } from '../tests/helpers/local-stack.ts';
import { makeWorkingRepo, UserClient } from '../tests/helpers/user-client.ts';
import setupTemplate from '../tests/setup/global.ts';
import {
  agentTimings,
  hostLoad,
  report,
  workspaceLog,
  type AgentSeries,
  type Sample,
} from './agents-first-message-report.ts';

type Agent = keyof typeof AGENT_PACKAGES;
const PROVIDERS: Record<Agent, string> = {
  'claude-code': 'anthropic',
  codex: 'openai',
  gemini: 'gemini',
  opencode: 'opencode',
};
const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const AGENTS = (process.env.BENCH_AGENTS?.split(',') ?? Object.keys(AGENT_PACKAGES)) as Agent[];
const CACHE = process.env.BENCH_AGENT_CACHE ?? join(homedir(), '.cache', 'sam', 'bench-agents');
const RUN_TIMEOUT_MS = 300_000;
const SAMPLES_FILE = process.env.BENCH_SAMPLES ?? join(tmpdir(), 'sam-bench-agents-first-message.json');
const START_LIMIT_MS = 240_000;
const ms = (n: number) => n.toFixed(0);
const KEY = `sk-bench-${Math.random().toString(36).slice(2, 10)}-4242`;

const installDir = (agent: Agent) => {
  const pkg = AGENT_PACKAGES[agent];
  return join(CACHE, `${pkg.package.replace('/', '+')}@${pkg.version}`);
};

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${RUN_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One task: submit, time to the first agent message, then wait for the run to end (node warm). */
/** Runs {@link runTask}; a failure carries what the vm-agents logged about the task's workspace. */
async function runTaskExplained(
  stack: RunningFunctionsStack,
  user: UserClient,
  projectId: string,
  n: number,
): Promise<Sample> {
  const since = new Date();
  try {
    return await runTask(stack, user, projectId, n);
  } catch (e) {
    const [t] = await stack.db.admin`
      select workspace_id, status, execution_step, error_message from public.tasks
       where project_id = ${projectId} and created_at >= ${since} order by created_at desc limit 1`;
    const lines = t?.workspace_id ? workspaceLog(stack.machines.baseDir, String(t.workspace_id)) : [];
    const state = t ? ` (task ${t.status}, step ${t.execution_step}, error ${t.error_message})` : '';
    throw new Error(
      `${e instanceof Error ? e.message : String(e)}${state}; vm-agent log:\n${lines.slice(-25).join('\n')}`,
    );
  }
}

async function runTask(stack: RunningFunctionsStack, user: UserClient, projectId: string, n: number): Promise<Sample> {
  const submittedAt = Date.now();
  const t0 = performance.now();
  const { taskId, sessionId } = await user.submit(projectId, `Say hello (run ${n})`);
  const watch = await user.watch(sessionId);
  const failed = until(async () => {
    const [t] = await stack.db.admin`select status from public.tasks where id = ${taskId}`;
    if (t?.status === 'failed') throw new Error(`task ${taskId} failed before its first agent message`);
    return watch.firstAgentMessageAt !== null;
  }, 'the first agent message');
  await Promise.race([
    watch.until((w) => w.firstAgentMessageAt !== null, RUN_TIMEOUT_MS, 'the first agent message'),
    failed,
  ]);
  await failed;
  const firstMessageMs = watch.firstAgentMessageAt! - t0;
  await watch.leave();
  await until(async () => {
    const [t] = await stack.db.admin`
      select t.status, n.status as node_status from public.tasks t join public.nodes n on n.id = t.node_id
       where t.id = ${taskId}`;
    if (t?.status === 'failed') throw new Error(`task ${taskId} failed`);
    return t?.status === 'completed' && t.node_status === 'warm';
  }, `task ${taskId} to complete and its node to go warm`);
  const [p] = await stack.db.admin`
    select t.workspace_id,
           extract(epoch from (select min(e.created_at) from public.lifecycle_events e
                                where e.entity = 'workspace' and e.entity_id = t.workspace_id and e.to_state = 'ready'))
             * 1000 as workspace_ready,
           extract(epoch from (select min(a.created_at) from public.agent_sessions a where a.task_id = t.id)) * 1000
             as session_registered,
           extract(epoch from (select min(m.created_at) from public.messages m
                                where m.session_id = t.chat_session_id and m.role in ('assistant', 'thought', 'tool', 'plan')))
             * 1000 as first_message_stored
      from public.tasks t where t.id = ${taskId}`;
  const timings = agentTimings(stack.machines.baseDir, String(p!.workspace_id));
  const at = (epochMs: number) => epochMs - submittedAt;
  return {
    firstMessageMs,
    workspaceReady: at(Number(p!.workspace_ready)),
    sessionRegistered: at(Number(p!.session_registered)),
    firstMessageStored: at(Number(p!.first_message_stored)),
    agentStart: at(timings.start.startedAt),
    installMs: timings.start.installMs,
    installed: timings.start.installed,
    spawnMs: timings.start.spawnMs,
    initializeMs: timings.start.initializeMs,
    sessionNewMs: timings.start.sessionNewMs,
    promptSent: at(timings.firstUpdate.promptAt),
    firstUpdate: at(timings.firstUpdate.firstUpdateAt),
  };
}

/** Signs up, once more after a failed request (on a host this loaded, a sign-up request once failed to connect). */
async function signUp(stack: RunningFunctionsStack): Promise<UserClient> {
  try {
    return await UserClient.signUp(stack.url, stack.publishableKey);
  } catch (e) {
    console.warn(`sign-up failed (${e instanceof Error ? e.message : String(e)}); once more`);
    return UserClient.signUp(stack.url, stack.publishableKey);
  }
}

async function newUser(stack: RunningFunctionsStack, agent: Agent, model: ScriptedModel) {
  const user = await signUp(stack);
  const stored = await user.client.functions.invoke('credentials', {
    method: 'PUT',
    body: { type: 'agent-api-key', provider: PROVIDERS[agent], secret: KEY, baseUrl: model.url },
  });
  if (stored.error) throw new Error(`storing the key failed: ${String(stored.error)}`);
  const projectId = await createAgentProject(user, makeWorkingRepo('bench'), agent);
  return { user, projectId };
}

/** Destroys the user's nodes and waits for their machines to go. */
async function retireNodes(stack: RunningFunctionsStack, userId: string): Promise<void> {
  const rows = await stack.db.admin`
    select id, public.destroy_node(id, 'benchmark run over') from public.nodes
     where owner_id = ${userId} and status not in ('destroying', 'destroyed')`;
  const retiring = new Set(rows.map((r) => String(r.id)));
  await until(
    async () =>
      !stack.machines.machines().some((m) => m.labels['sam-node-id'] && retiring.has(m.labels['sam-node-id'])),
    'the machines to be deleted',
  );
}

/** An agent's bench state: its scripted model, its warm user (node kept warm) and the samples so far. */
type Bench = AgentSeries & { model: ScriptedModel; warmUser: UserClient; warmProject: string };

/**
 * The agent's first run in this bench (it installs when the shared agent cache lacks it: the
 * "first install"), by the user whose node then stays warm for the warm series.
 */
async function prepare(stack: RunningFunctionsStack, agent: Agent): Promise<Bench> {
  const model = await new ScriptedModel({ steps: [{ text: 'Hello from the benchmark.' }] }).start();
  const warm = await newUser(stack, agent, model);
  const firstInstall = await runTaskExplained(stack, warm.user, warm.projectId, 0);
  console.log(
    `${agent} first run: install ${firstInstall.installMs} ms, first message ${ms(firstInstall.firstMessageMs)} ms`,
  );
  const title = AGENT_PACKAGES[agent].title;
  return { agent, title, firstInstall, cold: [], warm: [], model, warmUser: warm.user, warmProject: warm.projectId };
}

async function coldRun(stack: RunningFunctionsStack, b: Bench, i: number): Promise<void> {
  rmSync(installDir(b.agent as Agent), { recursive: true, force: true });
  const { user, projectId } = await newUser(stack, b.agent as Agent, b.model);
  b.cold.push(await runTaskExplained(stack, user, projectId, i));
  console.log(`${b.agent} cold ${i}/${RUNS}: ${ms(b.cold.at(-1)!.firstMessageMs)} ms (load ${hostLoad()})`);
  await retireNodes(stack, user.userId);
  await user.close();
}

async function warmRun(stack: RunningFunctionsStack, b: Bench, i: number): Promise<void> {
  b.warm.push(await runTaskExplained(stack, b.warmUser, b.warmProject, i));
  console.log(`${b.agent} warm ${i}/${RUNS}: ${ms(b.warm.at(-1)!.firstMessageMs)} ms (load ${hostLoad()})`);
}

/** Every request the scripted models got carried the stored key (in the header its vendor's API uses). */
function checkKeys(benches: Bench[]): void {
  for (const b of benches) {
    const bad = b.model.requests.filter(
      (r) =>
        ![r.headers['x-api-key'], r.headers['x-goog-api-key'], r.headers.authorization].some(
          (h) => h === KEY || h === `Bearer ${KEY}`,
        ),
    );
    if (bad.length) throw new Error(`${b.title}: ${bad.length} model request(s) without the stored key`);
  }
}

async function main(): Promise<void> {
  await setupTemplate();
  const startedAt = new Date();
  const loadBefore = hostLoad();
  const stack = await startFunctionsStack('bench_agents_first_message', {
    allServices: true,
    // The agents' start limit raised from 60 s: on this shared, loaded host OpenCode's start alone took longer.
    machines: { agentEnv: { SAM_AGENT_CACHE_DIR: CACHE, SAM_AGENT_START_TIMEOUT_MS: String(START_LIMIT_MS) } },
  });
  const benches: Bench[] = [];
  const failures: string[] = [];
  const record = () => {
    // Every sample as measured, beside the tables (a crash in the report loses nothing).
    writeFileSync(
      SAMPLES_FILE,
      JSON.stringify({ failures, benches: benches.map(({ model: _m, warmUser: _u, ...b }) => b) }, null, 1),
    );
    report(benches, {
      runs: RUNS,
      startedAt,
      loadBefore,
      failures,
      record: process.argv.includes('--record'),
    });
  };
  try {
    for (const agent of AGENTS) {
      try {
        benches.push(await prepare(stack, agent));
      } catch (e) {
        failures.push(
          `${AGENT_PACKAGES[agent].title} (before its series): ${e instanceof Error ? e.message : String(e)}`,
        );
        console.error(failures.at(-1));
      }
    }
    record();
    // Round-robin (cold and warm of each agent per round), written after each round, so a run cut
    // short has the same number of samples for every agent and series.
    for (let i = 1; i <= RUNS; i++) {
      for (const b of benches) {
        // An agent that failed twice is left out of the remaining rounds.
        if (failures.filter((f) => f.startsWith(`${b.title} (round`)).length >= 2) continue;
        // A cold run's machine comes and goes beside the warm ones (one warm node per agent).
        try {
          await coldRun(stack, b, i);
          await warmRun(stack, b, i);
        } catch (e) {
          failures.push(`${b.title} (round ${i}): ${e instanceof Error ? e.message : String(e)}`);
          console.error(failures.at(-1));
        }
      }
      checkKeys(benches);
      record();
    }
    for (const b of benches) {
      const [nodes] = await stack.db
        .admin`select count(*)::int as n from public.nodes where owner_id = ${b.warmUser.userId}`;
      if (nodes!.n !== 1) throw new Error(`${b.title}'s warm series used ${nodes!.n} nodes, expected 1`);
    }
  } finally {
    for (const b of benches) {
      await b.warmUser.close();
      await b.model.close();
    }
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
