/**
 * Planted secrets never ride a broadcast. Over the whole local stack, the demo agent prints fake
 * credentials (an Anthropic key, an OpenAI key, GitHub tokens, a password) to its stderr when a
 * turn starts, and is SIGKILLed mid-stream: the vm-agent recovers it and files a crash report with
 * the stderr tail. A second Realtime client — supabase-js, signed in as the task's owner,
 * subscribed to the private `session:<id>` topic for every broadcast event — keeps each payload
 * as it arrived on the wire. The crash report with its redacted stderr is among them; no planted
 * secret is in any of them, nor in any stored message.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { afterAll, expect, it } from 'vitest';
import { processesWithEnv } from '../../local-machines/processes.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo, UserClient } from '../helpers/user-client.ts';
import { waitFor } from '../helpers/wait.ts';

const PLANTED = [
  'sk-ant-api03-PLANTEDbroadcast0123456789abcdef',
  'sk-proj-PLANTEDbroadcast0123456789abcd',
  'ghs_PLANTEDbroadcastFAKE0123456789abcdEF',
  'github_pat_11PLANTED0123456789_broadcastFAKEfake',
  'hunter2-planted-password',
];
const NOTE = [
  `ANTHROPIC_API_KEY=${PLANTED[0]}`,
  `openai key ${PLANTED[1]}`,
  `github ${PLANTED[2]} and ${PLANTED[3]}`,
  `password: ${PLANTED[4]}`,
].join(' | ');

const stack = useFunctionsStack('broadcast_secrets', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '40', SAM_DEMO_AGENT_STDERR: NOTE } },
});
let user: UserClient | undefined;
let listener: SupabaseClient | undefined;

afterAll(async () => {
  await listener?.removeAllChannels();
  await user?.close();
});

/** The demo agent processes of the host's machines. */
function demoAgents(): number[] {
  return stack.machines.machines().flatMap((m) =>
    processesWithEnv('HOME', join(stack.machines.baseDir, m.id, 'home')).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('demo-agent');
      } catch {
        return false;
      }
    }),
  );
}

it('no broadcast on the session topic carries a planted secret, the crash report included', async () => {
  user = await UserClient.signUp(stack.url, stack.publishableKey);
  const projectId = await user.createProject(makeWorkingRepo('broadcast'));
  const { taskId, sessionId } = await user.submit(projectId, 'note the drill in NOTES.md [stream:2000]');

  // The second client: its own connection, the owner's access token, every broadcast event kept raw.
  const { data } = await user.client.auth.getSession();
  listener = createClient(stack.url, stack.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as never },
  });
  await listener.realtime.setAuth(data.session!.access_token);
  const wire: string[] = [];
  const channel = listener.channel(`session:${sessionId}`, { config: { private: true } });
  channel.on('broadcast', { event: '*' }, (message) => {
    wire.push(JSON.stringify(message));
  });
  await new Promise<void>((resolve, reject) => {
    channel.subscribe((status, err) => {
      if (status === 'SUBSCRIBED') resolve();
      else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') reject(err ?? new Error(status));
    });
  });

  // The agent streams (its stderr holds the planted note by now); then its process dies.
  await waitFor('the agent to stream', () => wire.some((w) => w.includes('[#5]')), 120_000);
  const [victim] = demoAgents();
  expect(victim).toBeGreaterThan(0);
  process.kill(victim!, 'SIGKILL');

  await waitFor('the crash report to be broadcast', () => wire.some((w) => w.includes('crash_report')), 60_000);
  const report = wire.find((w) => w.includes('crash_report'))!;
  // The report carried the agent's stderr, redacted: the check below could have failed.
  expect(report).toContain('[REDACTED]');
  expect(report).toContain('ANTHROPIC_API_KEY');
  await waitFor(
    'the task to wait for a follow-up',
    async () => (await user!.task(taskId)).execution_step === 'awaiting_followup',
    60_000,
  );

  for (const secret of PLANTED) {
    expect(wire.filter((w) => w.includes(secret))).toEqual([]);
  }
  const [leaks] = await stack.db.admin`
    select count(*)::int as n from public.messages
     where session_id = ${sessionId} and row_to_json(messages)::text ~ ${PLANTED.join('|')}`;
  expect(leaks!.n).toBe(0);
  expect(wire.length).toBeGreaterThan(3);
}, 300_000);
