/**
 * The functions go away for 20 seconds while the demo agent streams: the vm-agent keeps what the
 * agent says in its on-disk outbox and delivers it when they are back, so the user's subscribed
 * client ends up with every chunk the agent produced exactly once, in order. Counted end to end:
 * the agent numbers its chunks [#1]…[#N]; the database and the client must each hold 1…N once.
 */
import { afterAll, expect, it } from 'vitest';
import { isFunctionsService } from '../../supabase/local/functions/index.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo, UserClient, type SessionWatch } from '../helpers/user-client.ts';
import { processAlive } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';

const CHUNKS = 700;
const DELAY_MS = 40;
const OUTAGE_MS = 20_000;

const stack = useFunctionsStack('outage', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: String(DELAY_MS) } },
});
let user: UserClient | undefined;

afterAll(async () => {
  await user?.close();
});

/** The chunk numbers in thought text, in order of appearance. */
function markers(texts: string[]): number[] {
  return [...texts.join('').matchAll(/\[#(\d+)\]/g)].map((m) => Number(m[1]));
}

const seen = (watch: SessionWatch) =>
  markers(
    watch
      .ordered()
      .filter((m) => m.role === 'thought')
      .map((m) => m.content),
  );

async function stored(sessionId: string): Promise<{ ids: number[]; markers: number[] }> {
  const rows = await stack.db.admin`
    select id, role, content from public.messages where session_id = ${sessionId} order by id`;
  return {
    ids: rows.map((r) => Number(r.id)),
    markers: markers(rows.filter((r) => r.role === 'thought').map((r) => r.content as string)),
  };
}

it('loses no message and duplicates none when the functions stop for 20 seconds mid-stream', async () => {
  user = await UserClient.signUp(stack.url, stack.publishableKey);
  const projectId = await user.createProject(makeWorkingRepo('outage'));
  const { taskId, sessionId } = await user.submit(projectId, `add a greeting to README [stream:${CHUNKS}]`);
  const watch = await user.watch(sessionId);

  // The agent is streaming and the user sees it.
  await watch.until((w) => seen(w).length >= 30, 90_000, 'the first 30 chunks');
  const functions = stack.stack.services.find(isFunctionsService)!;
  await functions.suspend();
  const atOutage = Math.max(...seen(watch));
  try {
    const refused = await fetch(stack.functionUrl('vm-agent/nodes/heartbeat'), { method: 'POST' });
    expect(refused.status).toBe(503);
    await new Promise((r) => setTimeout(r, OUTAGE_MS));
    // Nothing got through while they were down (a chunk or two in flight at the cut may have)…
    const during = await stored(sessionId);
    expect(Math.max(...during.markers)).toBeLessThanOrEqual(atOutage + 5);
    // …while the agent kept working: its process is alive.
    const [machine] = stack.machines.machines();
    expect(machine?.status).toBe('running');
    expect(processAlive(machine!.pid!)).toBe(true);
  } finally {
    functions.resume();
  }

  await watch.until((w) => seen(w).includes(CHUNKS), 120_000, `chunk ${CHUNKS}`);
  await waitFor('the task to complete', async () => (await user!.task(taskId)).status === 'completed', 60_000);
  // The vm-agent drains its outbox before it stops the session: only then is every row stored,
  // and the client's catch-up (which reads what came after the newest row it holds) sees them all.
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

  const expected = Array.from({ length: CHUNKS }, (_, i) => i + 1);
  const db = await stored(sessionId);
  expect(db.markers).toEqual(expected);
  expect(seen(watch)).toEqual(expected);
  // The client holds exactly the stored rows, each once.
  expect([...watch.messages.keys()].sort((a, b) => a - b)).toEqual(db.ids);
  const [dupes] = await stack.db.admin`
    select count(*) - count(distinct message_id) as n from public.messages where session_id = ${sessionId}`;
  expect(Number(dupes!.n)).toBe(0);
  // The run went on to the end: the greeting was pushed.
  await waitFor(
    'the push to be recorded',
    async () => {
      const [t] = await stack.db.admin`
        select completion_evidence #>> '{gitPush,pushed}' as pushed from public.tasks where id = ${taskId}`;
      return t!.pushed === 'true';
    },
    30_000,
  );
}, 240_000);
