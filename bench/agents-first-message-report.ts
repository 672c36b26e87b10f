/**
 * What bench/agents-first-message.ts reads and writes: the vm-agent's timing lines for one
 * workspace, the host's load, and the results tables (bench/results/agents-first-message.md).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { paths } from '../supabase/local/paths.ts';
import type { AgentStartTimings } from '../vm-agent/node/agent-session.ts';

/** One run; times are ms after the client's `submit_task` call unless named `…Ms`. */
export interface Sample {
  /** Submit → the client holds the first agent message (the number that matters). */
  firstMessageMs: number;
  workspaceReady: number;
  sessionRegistered: number;
  /** The vm-agent begins starting the agent (after registering the session). */
  agentStart: number;
  installMs: number;
  installed: boolean;
  spawnMs: number;
  initializeMs: number;
  sessionNewMs: number;
  promptSent: number;
  /** The agent's first shown update (message, thought, tool call or plan) reached the vm-agent. */
  firstUpdate: number;
  firstMessageStored: number;
}

export interface AgentSeries {
  agent: string;
  title: string;
  firstInstall: Sample;
  cold: Sample[];
  warm: Sample[];
}

type FirstUpdate = { promptAt: number; firstUpdateAt: number; kind: string };

/** What the machines' vm-agents logged about `workspaceId`. */
export function workspaceLog(baseDir: string, workspaceId: string): string[] {
  const prefix = `workspace ${workspaceId.slice(0, 8)}: `;
  const lines: string[] = [];
  for (const dir of readdirSync(baseDir)) {
    const log = join(baseDir, dir, 'vm-agent.log');
    if (existsSync(log))
      lines.push(
        ...readFileSync(log, 'utf8')
          .split('\n')
          .filter((l) => l.includes(prefix)),
      );
  }
  return lines;
}

/** The `agent start timings` and `agent first update` lines a machine's vm-agent logged for `workspaceId`. */
export function agentTimings(
  baseDir: string,
  workspaceId: string,
): { start: AgentStartTimings; firstUpdate: FirstUpdate } {
  const prefix = `workspace ${workspaceId.slice(0, 8)}: `;
  let start: AgentStartTimings | undefined;
  let firstUpdate: FirstUpdate | undefined;
  for (const dir of readdirSync(baseDir)) {
    const log = join(baseDir, dir, 'vm-agent.log');
    if (!existsSync(log)) continue;
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      const at = line.indexOf(prefix);
      if (at < 0) continue;
      const rest = line.slice(at + prefix.length);
      if (rest.startsWith('agent start timings ')) start = JSON.parse(rest.slice('agent start timings '.length));
      if (rest.startsWith('agent first update ')) firstUpdate = JSON.parse(rest.slice('agent first update '.length));
    }
  }
  if (!start || !firstUpdate) throw new Error(`no agent timings logged for workspace ${workspaceId}`);
  return { start, firstUpdate };
}

export const hostLoad = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** NaN for no values (shown as "—"). */
const percentile = (values: number[], q: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))]! : NaN;
};
const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '—');

/** The phases, each the median over a series (so they add up only roughly to the median total). */
const PHASES: [string, (s: Sample) => number][] = [
  ['to agent start', (s) => s.agentStart],
  ['install', (s) => s.installMs],
  ['spawn', (s) => s.spawnMs],
  ['initialize', (s) => s.initializeMs],
  ['session/new', (s) => s.sessionNewMs],
  ['to prompt', (s) => s.promptSent - (s.agentStart + s.installMs + s.spawnMs + s.initializeMs + s.sessionNewMs)],
  ['first update', (s) => s.firstUpdate - s.promptSent],
  ['to stored', (s) => s.firstMessageStored - s.firstUpdate],
  ['to client', (s) => s.firstMessageMs - s.firstMessageStored],
];

function tables(done: AgentSeries[], runs: number): string {
  const totals = ['| agent | series | runs | p50 | p95 | min | max |', '|---|---|---|---|---|---|---|'];
  const phases = [
    `| agent | series | ${PHASES.map(([name]) => name).join(' | ')} | total |`,
    `|---|---|${PHASES.map(() => '---|').join('')}---|`,
  ];
  for (const a of done) {
    for (const [name, samples] of [
      ['cold', a.cold],
      ['warm', a.warm],
    ] as const) {
      const t = samples.map((s) => s.firstMessageMs);
      totals.push(
        `| ${a.title} | ${name} | ${samples.length}/${runs} | ${ms(percentile(t, 0.5))} | ${ms(percentile(t, 0.95))} | ${ms(Math.min(...t))} | ${ms(Math.max(...t))} |`,
      );
      phases.push(
        `| ${a.title} | ${name} | ${PHASES.map(([, f]) => ms(percentile(samples.map(f), 0.5))).join(' | ')} | ${ms(percentile(t, 0.5))} |`,
      );
    }
  }
  const installs = [
    '| agent | first run: install (ms) | first run: first message (ms) | cold installs (median ms) | cold runs that installed | warm runs that installed |',
    '|---|---|---|---|---|---|',
    ...done.map(
      (a) =>
        `| ${a.title} | ${ms(a.firstInstall.installMs)}${a.firstInstall.installed ? '' : ' (was cached)'} | ${ms(a.firstInstall.firstMessageMs)} | ${ms(
          percentile(
            a.cold.map((s) => s.installMs),
            0.5,
          ),
        )} | ${a.cold.filter((s) => s.installed).length}/${a.cold.length} | ${a.warm.filter((s) => s.installed).length}/${a.warm.length} |`,
    ),
  ];
  return `Submit → first agent message seen by the client (ms):\n\n${totals.join('\n')}\n\nWhere the time goes (ms, median of each phase):\n\n${phases.join('\n')}\n\nInstalls:\n\n${installs.join('\n')}`;
}

const DEFINITIONS = `## What was measured

The clock starts before the user's \`submit_task\` call (a supabase-js client whose key for the agent was stored
through the credentials function, base URL = the scripted model server) and stops when that client holds the first
agent message (thought, assistant, tool or plan) live on \`session:<id>\` or from the re-read after joining. The real
agent package runs through the vm-agent on the local provider; the scripted model answers with one short text.

- **cold**: a new user, so no warm node: a new machine (a new vm-agent process with a fresh HOME) whose agent cache
  does not hold this agent (its install directory is removed before the run), while npm's own cache
  (\`<agent cache>/.npm\`) holds the package's tarballs from an earlier install. The run includes \`npm install\` (npm
  still revalidates the registry metadata over the network) and the agent's first start in a fresh HOME.
- **warm**: the same user's next task with the same agent: the node the previous task left warm is claimed, the agent
  is installed in the machine's cache; the agent process is new (one per session) in a new per-session HOME.
- Machines run with the start limit \`SAM_AGENT_START_TIMEOUT_MS\` at 240 s (default 60 s): on a host at load
  average 12–20 (an earlier run beside eight test suites) OpenCode's start (initialize + \`session/new\`) alone
  took over 60 s, and the bench measures the agents, not the limit.
- Rounds: each round runs, per agent, one cold run then one warm run; the results are rewritten after each round.
- **first run**: the agent's first task in the bench (by the user whose node then stays warm for the warm series),
  installing when the shared agent cache lacks it; part of neither series.

Phases (ms, each the median over the series, so they add up only roughly to the median total):

- *to agent start*: submit → the vm-agent begins starting the agent: pg_net waking the orchestrator, (cold) the
  machine's start and registration, the \`create_workspace\` long-poll, clone, branch, agent-session registration.
- *install*: finding the agent in the machine's cache, on a cold run \`npm install\`, and writing its configuration.
- *spawn*: \`spawn()\` until the process exists.
- *initialize*: the process exists → it answered ACP \`initialize\` (mostly loading the agent's own code).
- *session/new*: ACP \`session/new\` with SAM's MCP server (agents connect to it here).
- *to prompt*: the workspace's status reports to the control plane before the first \`session/prompt\`.
- *first update*: \`session/prompt\` sent → the agent's first shown update (its model call to the scripted server
  included).
- *to stored*: the recorder's coalescing of chunks, the outbox's batching, the vm-agent function's insert.
- *to client*: the broadcast trigger, Realtime, the client.

Timestamps: the vm-agent's log lines \`agent start timings {…}\` and \`agent first update {…}\`
(vm-agent/node/agent-session.ts, vm-agent/acp/agent-client.ts) and the database's rows, all on this host's clock.`;

export function report(
  done: AgentSeries[],
  options: { runs: number; startedAt: Date; loadBefore: string; failures: string[]; record: boolean },
): void {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  const failed = options.failures.length
    ? `\n\nFailed runs (not in the tables; the vm-agent's log of the workspace follows each):\n\n${options.failures.map((f) => `\`\`\`\n${f}\n\`\`\``).join('\n\n')}`
    : '';
  const body = tables(done, options.runs) + failed;
  console.log(`\n${body}\n\n${machine}; load ${options.loadBefore} at the start, ${hostLoad()} now`);
  if (!options.record) return;
  writeFileSync(
    join(paths.root, 'bench', 'results', 'agents-first-message.md'),
    `# Submit → first agent message, per real agent\n\n` +
      `Recorded from ${options.startedAt.toISOString()} to ${new Date().toISOString()} by \`bench/agents-first-message.ts\` ` +
      `(${options.runs} runs per series; agents: ${done.map((a) => a.title).join(', ')}). ` +
      `Host: ${machine}; load average (1, 5, 15 min) ${options.loadBefore} at the start and ${hostLoad()} at this write.\n` +
      `Rerun: \`npx tsx bench/agents-first-message.ts --record\` (cluster running: \`scripts/sam db start\`).\n\n` +
      `${body}\n\n${DEFINITIONS}\n`,
  );
  console.log('recorded bench/results/agents-first-message.md');
}
