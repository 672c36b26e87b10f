/**
 * Closing the stand-in ends in bounded time whatever its clients do (supabase/local/server.ts):
 * open streams and kept-alive connections are cut, and a request that arrives while it closes
 * starts no function process that would outlive it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { functionsFactory } from '../../supabase/local/functions/index.ts';
import { paths } from '../../supabase/local/paths.ts';
import { startTestStack } from '../helpers/local-stack.ts';
import { processAlive } from '../helpers/processes.ts';

const FIXTURE_CONFIG = join(paths.root, 'tests', 'fixtures', 'supabase', 'config.toml');

/** The live Deno processes serving the stack at `url` (their SUPABASE_URL is that stack's). */
function functionProcessesOf(url: string): number[] {
  const marker = `SUPABASE_URL=${url}`;
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(marker) && processAlive(pid);
      } catch {
        return false;
      }
    });
}

/** A GET that stays on a kept-alive connection; resolves with the status once the body is read. */
function keptAliveGet(url: string, agent: Agent, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

it('closes while a stream is open, cutting it, and a request during close starts nothing', async () => {
  const t = await startTestStack({ factories: [functionsFactory({ configPath: FIXTURE_CONFIG })] }, 'close');
  const headers = { apikey: t.publishableKey };
  const fn = (path: string) => `${t.url}/functions/v1/${path}`;

  const runtime = await fetch(fn('hello/runtime'), { headers });
  const { pid } = (await runtime.json()) as { pid: number };
  // An idle kept-alive connection, and a stream the function holds open for 10 s.
  const agent = new Agent({ keepAlive: true });
  expect(await keptAliveGet(fn('hello/runtime'), agent, headers)).toBe(200);
  const sse = await fetch(fn('hello/sse'), { headers });
  const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
  expect((await reader.read()).value).toContain('data: first');
  const streamEnd = (async () => {
    for (;;) {
      const { done } = await reader.read();
      if (done) return 'ended';
    }
  })().catch(() => 'cut');

  const closing = t.close();
  // A client that keeps calling while the stack closes (a vm-agent's long-poll loop does).
  const during = await fetch(fn('hello/runtime'), { headers }).then(
    async (r) => ({ status: r.status, body: await r.text() }),
    (e: Error) => ({ status: 0, body: e.message }),
  );
  // Bounded by the test's timeout: a close that waited for the open stream would never end.
  await closing;

  expect(during.status).not.toBe(200);
  expect(await streamEnd).toBe('cut');
  expect(processAlive(pid)).toBe(false);
  expect(functionProcessesOf(t.url)).toEqual([]);
  agent.destroy();
});
