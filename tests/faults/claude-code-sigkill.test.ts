/**
 * SIGKILLs of the real Claude Code (the pinned claude-code-acp, from the shared agent cache) at
 * random points in a prompt, offline: its model is the scripted Anthropic server, which streams
 * each answer slowly (numbered deltas) so a kill lands before the model is asked, while it is
 * asked, or mid-stream. Each time the vm-agent's session layer (node/agent-supervisor.ts) must
 * classify the failure as a crash, start Claude Code again and load the same ACP session from its
 * transcript (`session/load`; Claude Code keeps it under `$HOME/.claude/projects/<cwd>/<id>.jsonl`)
 * — never a new session — and file a crash report.
 *
 * What Claude Code keeps: it writes a turn to its transcript once the turn's answer is complete,
 * a moment after it (measured here: not yet at the turn's end, there some 300 ms later). So a
 * session whose first turn was killed has nothing to load — the second test shows SAM failing
 * that honestly — and a killed turn's own prompt is not in the loaded history; every turn that
 * completed is. Hence the drill: one turn completes, then the kills, then a last turn completes.
 * History intact, as the model sees it: every request after a recovery carries the completed
 * turns, in order, each once; at the end a fresh process loads the session and replays the same.
 *
 * Counts are printed (recovered / kills); the bar is ≥ 99 % over the fault suite, here at
 * most one of the ten may fail to recover, and honestly (a RecoveryFailedError, no new session).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import { crashReportOf } from '../../functions/_shared/common/contracts/messages.ts';
import type { AgentLaunchSettings } from '../../functions/_shared/common/contracts/vm-agent.ts';
import { AgentClient } from '../../vm-agent/acp/agent-client.ts';
import { spawnAgentProcess } from '../../vm-agent/acp/agent-process.ts';
import { configureAgent } from '../../vm-agent/agents/configure.ts';
import { ensureAgentInstalled } from '../../vm-agent/agents/install.ts';
import { AGENT_PACKAGES } from '../../vm-agent/agents/manifest.ts';
import { AgentSupervisor, RecoveryFailedError } from '../../vm-agent/node/agent-supervisor.ts';
import type { AgentSessionStart } from '../../vm-agent/node/agent-session.ts';
import { startTestMcpServer, type TestMcpServer } from '../../vm-agent/test-support/mcp-server.ts';
import { AGENT_CACHE } from '../agents/agent-cache.ts';
import { ScriptedModel } from '../fakes/models/scripted-model.ts';
import { waitFor } from '../helpers/wait.ts';
import { AGENT_TOKEN, WORKSPACE_TOKEN, payload, seeded } from './support.ts';

const KILLS = Number(process.env.SAM_CLAUDE_FAULT_KILLS ?? 10);
/** The answer: 40 numbered deltas 60 ms apart, so a turn outlasts the latest kill point. */
const CHUNKS = 40;
const DELAY_MS = 60;
const KILL_WINDOW_MS = 2000;
const API_KEY = `sk-ant-faults-${Math.random().toString(36).slice(2, 12)}`;

let dir: string;
let repoDir: string;
let model: ScriptedModel;
let mcp: TestMcpServer;
let supervisor: AgentSupervisor | undefined;
const records: MessageRecord[] = [];

const promptText = (i: number | string) => `sam-fault-prompt-${i}: count to ${CHUNKS} for me`;
/** The prompt numbers a model request (or any text) carries, in order of appearance. */
const promptsIn = (text: string) => [...text.matchAll(/sam-fault-prompt-(\d+|[a-z]+)/g)].map((m) => m[1]!);
/** The prompts each model request of the agent's turns carried (title and token-count calls aside). */
const requestedPrompts = () => model.turns('anthropic').map((r) => promptsIn(JSON.stringify(r.body.messages)));

function launchSettings(): AgentLaunchSettings {
  return {
    agentType: 'claude-code',
    model: null,
    permissionMode: null,
    instructions: null,
    credential: { provider: 'anthropic', secretApiKey: API_KEY, baseUrl: model.url, config: {} },
  };
}

beforeAll(async () => {
  await ensureAgentInstalled(AGENT_PACKAGES['claude-code'], {
    cacheDir: AGENT_CACHE,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir() },
  });
  dir = await mkdtemp(path.join(tmpdir(), 'sam-faults-claude-'));
  repoDir = path.join(dir, 'repo');
  await mkdir(repoDir, { recursive: true });
  await writeFile(path.join(repoDir, 'README.md'), '# Faults\n');
  mcp = await startTestMcpServer(AGENT_TOKEN);
  model = await new ScriptedModel({
    cwd: repoDir,
    steps: [{ text: 'Counting:', stream: { chunks: CHUNKS, delayMs: DELAY_MS } }],
  }).start();
}, 600_000);

afterAll(async () => {
  await supervisor?.stop(2000).catch(() => {});
  await model?.close();
  await mcp?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function claudeSupervisor(): AgentSupervisor {
  const start: AgentSessionStart = {
    payload: payload('claude-code'),
    repoDir,
    stateDir: path.join(dir, 'agent-state'),
    agentSessionId: 'sam-faults-claude',
    mcp: { url: mcp.url, token: AGENT_TOKEN },
    launch: launchSettings(),
    agentHome: path.join(dir, 'home'),
    cacheDir: AGENT_CACHE,
    // The drill is about kills, not start speed: a loaded host may take long to start it again.
    agentEnv: { SAM_AGENT_START_TIMEOUT_MS: '180000' },
    machineEnv: { PATH: process.env.PATH, HOME: path.join(dir, 'home') },
    onRecord: async (record) => {
      records.push(record);
    },
    log: () => {},
  };
  return new AgentSupervisor({ start, secrets: () => [WORKSPACE_TOKEN, AGENT_TOKEN] });
}

it(`recovers Claude Code from ${KILLS} SIGKILLs at random points in a prompt, its history intact`, async () => {
  supervisor = claudeSupervisor();
  await supervisor.start();
  const acpSessionId = supervisor.acpSessionId!;
  expect(acpSessionId).toMatch(/\S/);
  // A session with history: one turn completes and reaches the transcript.
  expect(await supervisor.prompt(promptText('first'))).toEqual({ kind: 'ended', stopReason: 'end_turn' });
  await transcriptHolds(acpSessionId, 'first');

  const random = seeded(9);
  let recovered = 0;
  const failures: string[] = [];
  const sent = ['first'];
  for (let i = 0; i < KILLS; i++) {
    const pid = supervisor.agent!.process.child.pid!;
    const killAfterMs = Math.floor(random() * KILL_WINDOW_MS);
    const asked = model.turns('anthropic').length;
    const killer = setTimeout(() => process.kill(pid, 'SIGKILL'), killAfterMs);
    sent.push(String(i));
    try {
      const outcome = await supervisor.prompt(promptText(i)).finally(() => clearTimeout(killer));
      if (outcome.kind !== 'recovered') {
        failures.push(`kill ${i} at ${killAfterMs} ms: the turn ended (${outcome.stopReason}) before the kill`);
        continue;
      }
      expect(outcome.report).toMatchObject({ recovered: true, attribution: 'agent_process', agentType: 'claude-code' });
      // The same session, loaded into a new process — not a new session.
      expect(supervisor.acpSessionId).toBe(acpSessionId);
      expect(supervisor.agent!.process.child.pid).not.toBe(pid);
      recovered++;
      const where = model.turns('anthropic').length > asked ? 'the model was streaming' : 'before the model was asked';
      console.log(`kill ${i} at ${killAfterMs} ms (${where}): recovered`);
    } catch (error) {
      if (!(error instanceof RecoveryFailedError)) throw error;
      // Honest: the report says so, and no new session was started in its place.
      expect(error.report.recovered).toBe(false);
      failures.push(`kill ${i} at ${killAfterMs} ms: not recovered (${error.report.recoveryError})`);
      console.log(`kill ${i} at ${killAfterMs} ms: NOT recovered: ${error.report.recoveryError}`);
      break;
    }
  }
  console.log(`claude-code: ${recovered} of ${KILLS} SIGKILLs mid-prompt recovered with session/load`);
  expect(failures.filter((f) => f.includes('turn ended'))).toEqual([]);
  expect(recovered).toBeGreaterThanOrEqual(KILLS - 1);
  const reports = records.map(crashReportOf).filter((r) => r !== null);
  expect(reports.filter((r) => r.recovered)).toHaveLength(recovered);
  expect(records.filter((r) => r.metadata.event === 'session_loaded')).toHaveLength(recovered);
  expect(records.filter((r) => r.metadata.event === 'session_started')).toHaveLength(1);

  // The loaded session takes a prompt to its end.
  expect(await supervisor.prompt(promptText('final'))).toEqual({ kind: 'ended', stopReason: 'end_turn' });
  sent.push('final');

  // History intact, as the model sees it: every request carries the completed first turn and only
  // prompts sent before it, in order, each once.
  const requests = requestedPrompts();
  for (const [k, r] of requests.entries()) {
    const current = r.at(-1)!;
    const before = sent.slice(0, sent.indexOf(current) + 1);
    expect(r, `request ${k}: only prompts sent so far, in order, each once`).toEqual(
      before.filter((p) => r.includes(p)),
    );
    expect(r[0], `request ${k} lost the first turn`).toBe('first');
  }
  const history = requests.filter((r) => r.at(-1) === 'final').at(-1)!;
  console.log(
    `claude-code: the last request held ${history.length - 2} of the ${KILLS} killed prompts (a turn is kept once its answer is complete)`,
  );
  // The key reached the model only.
  expect(JSON.stringify(records)).not.toContain(API_KEY);
  for (const r of model.requests) expect(r.headers['x-api-key']).toBe(API_KEY);

  // The history as a fresh process loads it: the same prompts in order, the last answer whole.
  await transcriptHolds(acpSessionId, 'final');
  await supervisor.stop(2000);
  const replay = await replayed(acpSessionId);
  const echoed = promptsIn(
    replay
      .filter((r) => r.metadata.echo === 'user')
      .map((r) => r.content)
      .join('\n'),
  );
  expect(echoed).toEqual(history);
  const answers = replay
    .filter((r) => r.role === 'assistant' && r.metadata.echo !== 'user')
    .map((r) => r.content)
    .join('');
  expect(answers).toContain(`[#${CHUNKS}]`);
}, 900_000);

it('fails honestly when Claude Code is killed in its first turn, before it saved anything to load', async () => {
  await supervisor?.stop(2000);
  supervisor = claudeSupervisor();
  const from = records.length;
  await supervisor.start();
  const pid = supervisor.agent!.process.child.pid!;
  const asked = model.turns('anthropic').length;
  const turn = supervisor.prompt(promptText('lost'));
  // Killed while the model streams its first answer.
  await waitFor('the model to be asked', () => model.turns('anthropic').length > asked, 120_000);
  process.kill(pid, 'SIGKILL');
  const error = await turn.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RecoveryFailedError);
  const report = (error as RecoveryFailedError).report;
  expect(report).toMatchObject({ recovered: false, agentType: 'claude-code', attribution: 'agent_process' });
  // What Claude Code said, not only "Internal error".
  expect(report.recoveryError).toMatch(/^Internal error: \S/);
  // No new session in its place.
  expect(records.slice(from).filter((r) => r.metadata.event === 'session_started')).toHaveLength(1);
  expect(records.slice(from).filter((r) => r.metadata.event === 'session_loaded')).toHaveLength(0);
}, 300_000);

/** A transcript line that is a user turn (a line still being written is not). */
function isUserTurn(line: string): boolean {
  try {
    return (JSON.parse(line) as { type?: string }).type === 'user';
  } catch {
    return false;
  }
}

/** Until Claude Code's transcript of the session holds `prompt` (it writes a turn a moment after it ends). */
async function transcriptHolds(acpSessionId: string, prompt: string | number): Promise<void> {
  const projects = path.join(dir, 'home', '.claude', 'projects');
  await waitFor(
    `the transcript to hold prompt ${prompt}`,
    async () => {
      for (const sub of await readdir(projects).catch(() => [])) {
        const text = await readFile(path.join(projects, sub, `${acpSessionId}.jsonl`), 'utf8').catch(() => '');
        // The user's turn itself, not a queue entry naming it.
        const turns = text.split('\n').filter(isUserTurn);
        if (promptsIn(turns.join('\n')).includes(String(prompt))) return true;
      }
      return false;
    },
    30_000,
  );
}

/** What Claude Code replays of a session when a new process loads it (SAM's client records the replay). */
async function replayed(acpSessionId: string): Promise<MessageRecord[]> {
  const home = path.join(dir, 'home');
  const installed = await ensureAgentInstalled(AGENT_PACKAGES['claude-code'], {
    cacheDir: AGENT_CACHE,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home },
  });
  const launch = await configureAgent('claude-code', { home, settings: launchSettings() });
  const child = spawnAgentProcess(
    { command: installed.bin, args: launch.args, env: launch.env, cwd: repoDir },
    { PATH: process.env.PATH, HOME: home },
  );
  const replay: MessageRecord[] = [];
  try {
    const client = await AgentClient.connect(child.stream, {
      workspaceRoot: repoDir,
      sessionId: 'sam-faults-claude-replay',
      mcp: { url: mcp.url, token: AGENT_TOKEN },
      recordReplay: true,
      onRecord: (r) => {
        replay.push(r);
      },
    });
    await client.loadSession(acpSessionId);
    client.close();
  } finally {
    await child.stop(2000);
  }
  return replay;
}
