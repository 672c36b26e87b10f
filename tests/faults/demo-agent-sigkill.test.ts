/**
 * 100 SIGKILLs of the demo agent's process at random points in a prompt. Each time the vm-agent's
 * session layer must classify the failure as a crash, start the agent again, load the same ACP
 * session (`session/load`, never a new session) and file a crash report; the next prompt (after
 * every tenth kill) then runs in the loaded session. At the end a fresh agent process loads the session and replays it: the
 * history holds every turn in order, and every chunk the user saw live before a kill.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as acp from '@agentclientprotocol/sdk';
import type { MessageRecord } from '../../functions/_shared/common/contracts/messages.ts';
import { crashReportOf } from '../../functions/_shared/common/contracts/messages.ts';
import { AgentClient } from '../../vm-agent/acp/agent-client.ts';
import { spawnAgentProcess } from '../../vm-agent/acp/agent-process.ts';
import { planAgentLaunch } from '../../vm-agent/agents/catalog.ts';
import { demoSession, markers, seeded, type DemoSession } from './support.ts';

const KILLS = Number(process.env.SAM_FAULT_KILLS ?? 100);
const STREAM = 150; // chunks per prompt, 2 ms apart: a turn outlasts the latest kill point
let session: DemoSession;

beforeAll(async () => {
  session = await demoSession();
});
afterAll(async () => {
  await session?.close();
});

it(`recovers at least ${KILLS - 1} of ${KILLS} SIGKILLs mid-prompt with the session's history intact`, async () => {
  const { supervisor, records } = session;
  const random = seeded(15);
  await supervisor.start();
  const acpSessionId = supervisor.acpSessionId;
  expect(acpSessionId).toBeTruthy();
  /** Per prompt: the text sent and the records seen live during it. */
  const turns: { text: string; live: MessageRecord[] }[] = [];
  let recovered = 0;
  const failures: string[] = [];

  for (let i = 0; i < KILLS; i++) {
    const text = `kill ${i} [stream:${STREAM}]`;
    const from = records.length;
    const pid = supervisor.agent!.process.child.pid!;
    // A random point: from before the first update to well into the stream.
    const killAfterMs = Math.floor(random() * 250);
    const killer = setTimeout(() => process.kill(pid, 'SIGKILL'), killAfterMs);
    const outcome = await supervisor.prompt(text).finally(() => clearTimeout(killer));
    turns.push({ text, live: records.slice(from) });
    if (outcome.kind !== 'recovered') {
      failures.push(`kill ${i} at ${killAfterMs} ms: the turn ended (${outcome.stopReason}) before the kill`);
      continue;
    }
    expect(outcome.report.recovered).toBe(true);
    expect(outcome.report.attribution).toBe('agent_process');
    // The same session, loaded — not a new one.
    expect(supervisor.acpSessionId).toBe(acpSessionId);
    expect(supervisor.agent!.process.child.pid).not.toBe(pid);
    recovered++;
    // The loaded session takes the next prompt (every tenth time: each start costs a process).
    if (i % 10 !== 9) continue;
    const follow = `follow-up ${i}`;
    const before = records.length;
    const next = await supervisor.prompt(follow);
    expect(next).toEqual({ kind: 'ended', stopReason: 'end_turn' });
    turns.push({ text: follow, live: records.slice(before) });
  }
  expect(failures).toEqual([]);
  expect(recovered).toBeGreaterThanOrEqual(KILLS - 1);
  expect(supervisor.crashes).toBe(recovered);

  // Every recovery loaded the session and filed a report; never a new session after the first.
  const events = records.filter((r) => r.role === 'system').map((r) => r.metadata.event);
  expect(events.filter((e) => e === 'session_started')).toHaveLength(1);
  expect(events.filter((e) => e === 'session_loaded')).toHaveLength(recovered);
  const reports = records.map(crashReportOf).filter((r) => r !== null);
  expect(reports).toHaveLength(recovered);
  expect(reports.every((r) => r.recovered && r.agentType === 'demo')).toBe(true);

  // The history, as a fresh agent process loads it.
  await supervisor.stop(1000);
  const plan = planAgentLaunch('demo', { SAM_DEMO_AGENT_STATE_DIR: session.stateDir }, { PATH: process.env.PATH });
  const child = spawnAgentProcess(
    { command: plan.command, args: plan.args, env: plan.env, cwd: session.repoDir },
    { PATH: process.env.PATH, HOME: session.dir },
  );
  try {
    const replay: MessageRecord[] = [];
    const client = await AgentClient.connect(child.stream, {
      workspaceRoot: session.repoDir,
      sessionId: 'sam-faults-replay',
      recordReplay: true,
      onRecord: (r) => {
        replay.push(r);
      },
    });
    await client.loadSession(acpSessionId!);
    // Split the replay at each prompt's echo.
    const replayed: { text: string; records: MessageRecord[] }[] = [];
    for (const r of replay) {
      // Prompts echoed back to back (one killed before the agent said anything) share a record.
      if (r.metadata.echo === 'user') {
        for (const text of r.content.match(/kill \d+ \[stream:\d+\]|follow-up \d+/g) ?? [r.content]) {
          replayed.push({ text, records: [] });
        }
      } else replayed.at(-1)?.records.push(r);
    }
    // Walk the prompts sent: each the agent took is in the history, in order; one killed before the
    // agent took it (no update of it was seen live) is absent, and nothing else is.
    let r = 0;
    const notReached: string[] = [];
    for (const [i, turn] of turns.entries()) {
      const agentSpoke = turn.live.some((rec) => rec.role !== 'system');
      if (replayed[r]?.text !== turn.text) {
        expect(agentSpoke, `turn ${i} (${turn.text}) was seen live but is not in the history`).toBe(false);
        expect(turn.text).toMatch(/^kill /);
        notReached.push(turn.text);
        continue;
      }
      const seen = markers(turn.live);
      const kept = markers(replayed[r]!.records);
      // What the user saw live is all in the history, in order (the history may hold a chunk more:
      // recorded, then killed before it was sent).
      expect(kept.slice(0, seen.length), `turn ${i}`).toEqual(seen);
      expect(seen).toEqual(seen.map((_, k) => k + 1));
      r++;
    }
    expect(r).toBe(replayed.length);
    console.log(
      `${turns.length - notReached.length} prompts in the history; ${notReached.length} killed before the agent took them`,
    );
    client.close();
  } finally {
    await child.stop(1000);
  }
  expect(acp.PROTOCOL_VERSION).toBeGreaterThan(0);
}, 1_800_000);
