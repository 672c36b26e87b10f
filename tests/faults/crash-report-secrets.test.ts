/**
 * Fake secrets planted in the agent's stderr never reach a crash report or any message record:
 * the session's stored credential by value, SAM's tokens, and credential-shaped strings by
 * pattern. Both ways: a recovered crash, and one whose `session/load` fails (the report says
 * recovered: false with the recovery error, and the supervisor fails honestly — no new session).
 */
import { rm } from 'node:fs/promises';
import { afterEach, expect, it } from 'vitest';
import { crashReportOf } from '../../functions/_shared/common/contracts/messages.ts';
import { RecoveryFailedError } from '../../vm-agent/node/agent-supervisor.ts';
import { startAgentSession } from '../../vm-agent/node/agent-session.ts';
import { AGENT_TOKEN, WORKSPACE_TOKEN, demoSession, type DemoSession } from './support.ts';

const STORED_CREDENTIAL = 'stored-credential-value-7f3a9c2e';
const PLANTED = [
  STORED_CREDENTIAL,
  AGENT_TOKEN,
  WORKSPACE_TOKEN,
  'sk-ant-api03-FAKEfakeFAKEfake0123456789',
  'sk-proj-FAKEfakeFAKE0123456789abcd',
  'ghs_FAKEfakeFAKEfake0123456789abcdEFGH',
  'github_pat_11FAKE0123456789_fakeFAKEfake',
  'sam_test_0123456789abcdefFAKE',
];
const NOTE = [
  `auth failed for key ${STORED_CREDENTIAL}`,
  `Authorization: Bearer ${AGENT_TOKEN}`,
  `workspace token ${WORKSPACE_TOKEN}`,
  `ANTHROPIC_API_KEY=${PLANTED[3]}`,
  `openai key ${PLANTED[4]}, github ${PLANTED[5]} and ${PLANTED[6]}`,
  `test token ${PLANTED[7]}`,
  'password: hunter2-fake-password',
].join(' | ');

let session: DemoSession | undefined;
afterEach(async () => {
  await session?.close();
  session = undefined;
});

function expectClean(text: string): void {
  for (const secret of [...PLANTED, 'hunter2-fake-password']) expect(text).not.toContain(secret);
}

it('redacts every planted secret from a recovered crash report and every record', async () => {
  session = await demoSession({ agentEnv: { SAM_DEMO_AGENT_STDERR: NOTE }, secrets: [STORED_CREDENTIAL] });
  const { supervisor, records } = session;
  await supervisor.start();
  const pid = supervisor.agent!.process.child.pid!;
  // The stderr line is written when the prompt starts; kill once it is there.
  const started = supervisor.prompt('note this [stream:200]');
  await expect.poll(() => supervisor.agent?.process.stderrTail() ?? '', { timeout: 20_000 }).toContain('auth failed');
  process.kill(pid, 'SIGKILL');
  const outcome = await started;
  expect(outcome.kind).toBe('recovered');
  const report = records.map(crashReportOf).find((r) => r !== null)!;
  expect(report.recovered).toBe(true);
  expect(report.agentType).toBe('demo');
  expect(report.attribution).toBe('agent_process');
  expect(report.stderr).toContain('[REDACTED]');
  expect(report.stderr).toContain('auth failed for key');
  expect(report.stderrTruncated).toBe(false);
  expectClean(JSON.stringify(records));
});

it('reports honestly when the session cannot be loaded, and starts no new session', async () => {
  let stateDir = '';
  session = await demoSession({
    agentEnv: { SAM_DEMO_AGENT_STDERR: NOTE },
    secrets: [STORED_CREDENTIAL],
    // The restarted agent has lost its memory of the session: there is nothing to load.
    launch: async (start) => {
      if (start.resumeAcpSessionId) await rm(stateDir, { recursive: true, force: true });
      return startAgentSession(start);
    },
  });
  stateDir = session.stateDir;
  const { supervisor, records } = session;
  await supervisor.start();
  const pid = supervisor.agent!.process.child.pid!;
  const started = supervisor.prompt('note this [stream:200]');
  await expect.poll(() => supervisor.agent?.process.stderrTail() ?? '', { timeout: 20_000 }).toContain('auth failed');
  process.kill(pid, 'SIGKILL');
  const error = await started.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RecoveryFailedError);
  const report = (error as RecoveryFailedError).report;
  expect(report.recovered).toBe(false);
  expect(report.recoveryError).toMatch(/not found/i);
  expect(records.map(crashReportOf).filter((r) => r !== null)).toEqual([report]);
  expect(records.filter((r) => r.metadata.event === 'session_started')).toHaveLength(1);
  expectClean(JSON.stringify(records) + JSON.stringify(report) + String(error));
});
