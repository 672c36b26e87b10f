/**
 * Broadcast from the database through the local Realtime server to N subscribed supabase-js
 * clients: latency (insert issued → client receipt; the insert autocommits, and NOTIFY is delivered
 * on commit) and throughput, beside the floor of the same inserts with a plain `pg_notify` trigger
 * received by a LISTEN connection, measured in the same run.
 *
 *   npx tsx bench/realtime-broadcast.ts            # print results
 *   npx tsx bench/realtime-broadcast.ts --record   # also write bench/results/realtime-broadcast.md
 *
 * Needs the database cluster (`scripts/sam db start`). Loopback only, bounded loops. The server and
 * the clients share this one Node process (as the stand-in is one process); figures are therefore
 * a pessimistic bound for the server alone.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import postgres from 'postgres';
import WebSocket from 'ws';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { connectionUrl } from '../supabase/local/postgres/cluster.ts';
import { startLocalStack } from '../supabase/local/server.ts';
import { realtimeService } from '../supabase/local/realtime/service.ts';
import setupTemplate from '../tests/setup/global.ts';
import { createTestDatabase } from '../tests/helpers/test-database.ts';
import { applyRooms, createUser, tokenFor } from '../tests/helpers/realtime-fixtures.ts';

const CLIENT_COUNTS = [1, 10, 50];
const LATENCY_MESSAGES = 200;
const BURST_MESSAGES = 2000;
const BURST_WRITERS = 4;
const PHASE_TIMEOUT_MS = 120_000;

interface Stats {
  p50: number;
  p95: number;
  max: number;
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p95: at(0.95), max: s[s.length - 1]! };
}

function deadline<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish in ${PHASE_TIMEOUT_MS} ms`)), PHASE_TIMEOUT_MS);
    }),
  ]);
}

/** Waits until `count` receipts of `seq` have been recorded. */
class Receipts {
  private readonly seen = new Map<number, number>();
  private waiter: { seq: number; count: number; resolve: () => void } | undefined;
  total = 0;
  private totalWaiter: { count: number; resolve: () => void } | undefined;
  readonly latencies: number[] = [];
  sentAt = new Map<number, number>();

  record(seq: number): void {
    const now = performance.now();
    const sent = this.sentAt.get(seq);
    if (sent !== undefined) this.latencies.push(now - sent);
    const n = (this.seen.get(seq) ?? 0) + 1;
    this.seen.set(seq, n);
    this.total++;
    if (this.waiter && this.waiter.seq === seq && n >= this.waiter.count) this.waiter.resolve();
    if (this.totalWaiter && this.total >= this.totalWaiter.count) this.totalWaiter.resolve();
  }

  forSeq(seq: number, count: number): Promise<void> {
    if ((this.seen.get(seq) ?? 0) >= count) return Promise.resolve();
    return new Promise((resolve) => (this.waiter = { seq, count, resolve }));
  }

  forTotal(count: number): Promise<void> {
    if (this.total >= count) return Promise.resolve();
    return new Promise((resolve) => (this.totalWaiter = { count, resolve }));
  }

  reset(): void {
    this.seen.clear();
    this.total = 0;
    this.latencies.length = 0;
    this.sentAt = new Map();
  }
}

interface Result {
  label: string;
  clients: number;
  latency: Stats;
  messagesPerSecond: number;
  deliveriesPerSecond: number;
}

/** Sequential inserts, each waiting for every receiver: latency without queueing. */
async function measureLatency(insert: (body: string) => Promise<unknown>, receipts: Receipts, receivers: number) {
  receipts.reset();
  for (let seq = 0; seq < LATENCY_MESSAGES; seq++) {
    receipts.sentAt.set(seq, performance.now());
    await insert(String(seq));
    await receipts.forSeq(seq, receivers);
  }
  return stats(receipts.latencies);
}

/** BURST_MESSAGES inserts from BURST_WRITERS concurrent writers; time until every receiver has all. */
async function measureThroughput(insert: (body: string) => Promise<unknown>, receipts: Receipts, receivers: number) {
  receipts.reset();
  const started = performance.now();
  let next = 0;
  const writer = async () => {
    while (next < BURST_MESSAGES) {
      const seq = next++;
      await insert(`b${seq}`);
    }
  };
  await Promise.all(Array.from({ length: BURST_WRITERS }, writer));
  await receipts.forTotal(BURST_MESSAGES * receivers);
  const seconds = (performance.now() - started) / 1000;
  return { messagesPerSecond: BURST_MESSAGES / seconds, deliveriesPerSecond: (BURST_MESSAGES * receivers) / seconds };
}

async function main(): Promise<void> {
  await setupTemplate();
  const db = await createTestDatabase('bench_realtime');
  const stack = await startLocalStack({
    port: 0,
    factories: [realtimeService],
    database: db.name,
    databaseUrl: (role) => connectionUrl(db.cluster, role, db.name),
    runtimeDir: mkdtempSync(join(tmpdir(), 'sam-bench-')),
  });
  const app = await applyRooms(db);
  const writers = postgres(db.url(), { max: BURST_WRITERS, onnotice: () => {} });
  const results: Result[] = [];
  const clients: SupabaseClient[] = [];
  try {
    // Floor: the same autocommitted inserts, a trigger doing pg_notify, one LISTEN connection.
    await app.unsafe(`
      create table public.bench_floor (id bigserial primary key, body text not null);
      create function public.bench_floor_notify() returns trigger language plpgsql as $$
      begin perform pg_notify('bench_floor', new.body); return null; end $$;
      create trigger bench_floor_notify after insert on public.bench_floor
        for each row execute function public.bench_floor_notify();`);
    const listener = postgres(db.url(), { max: 1, onnotice: () => {} });
    const floorReceipts = new Receipts();
    await listener.listen('bench_floor', (body) => floorReceipts.record(Number(body.replace(/^b/, ''))));
    const floorInsert = (body: string) => writers`insert into public.bench_floor (body) values (${body})`;
    const floorLatency = await deadline(measureLatency(floorInsert, floorReceipts, 1), 'floor latency');
    const floorThroughput = await deadline(measureThroughput(floorInsert, floorReceipts, 1), 'floor throughput');
    results.push({
      label: 'floor: insert + pg_notify → LISTEN',
      clients: 1,
      latency: floorLatency,
      ...floorThroughput,
    });
    await listener.end();

    const receipts = new Receipts();
    const chatInsert = (body: string) => writers`insert into public.chat_messages (room_id, body) values (1, ${body})`;
    for (const n of CLIENT_COUNTS) {
      while (clients.length < n) {
        const user = await createUser(db, `bench${clients.length}`);
        await app`insert into public.room_members (room_id, user_id) values (1, ${user.id})`;
        const client = createClient(stack.url, stack.ctx.keys.publishableKey, {
          auth: { persistSession: false, autoRefreshToken: false },
          realtime: { transport: WebSocket as never },
        });
        await client.realtime.setAuth(await tokenFor(stack.ctx.keys, user));
        const channel = client.channel('room:1', { config: { private: true } });
        channel.on('broadcast', { event: 'message' }, (m) =>
          receipts.record(Number(String((m.payload as { body: string }).body).replace(/^b/, ''))),
        );
        await new Promise<void>((resolve, reject) =>
          channel.subscribe((status, err) =>
            status === 'SUBSCRIBED' ? resolve() : reject(new Error(`${status} ${err?.message ?? ''}`)),
          ),
        );
        clients.push(client);
      }
      const latency = await deadline(measureLatency(chatInsert, receipts, n), `latency N=${n}`);
      const throughput = await deadline(measureThroughput(chatInsert, receipts, n), `throughput N=${n}`);
      results.push({ label: 'realtime.send trigger → supabase-js', clients: n, latency, ...throughput });
      await app`delete from realtime.messages`;
    }
  } finally {
    await Promise.allSettled(clients.map((c) => c.removeAllChannels()));
    await writers.end();
    await app.end();
    await stack.close();
    await db.drop();
  }
  report(results);
}

function report(results: Result[]): void {
  const f = (x: number) => x.toFixed(2);
  const rows = results.map(
    (r) =>
      `| ${r.label} | ${r.clients} | ${f(r.latency.p50)} | ${f(r.latency.p95)} | ${f(r.latency.max)} | ` +
      `${Math.round(r.messagesPerSecond)} | ${Math.round(r.deliveriesPerSecond)} |`,
  );
  const cpu = cpus();
  const machine = `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL 15 on loopback`;
  const table = [
    '| path | clients | p50 ms | p95 ms | max ms | messages/s | deliveries/s |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
  const load = `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ')} (1/5/15 min) at the end of the run`;
  console.log(`\n${machine}; ${load}\n\n${table}\n`);
  if (process.argv.includes('--record')) {
    writeFileSync(
      new URL('results/realtime-broadcast.md', import.meta.url),
      `# Realtime broadcast from the database\n\n` +
        `Recorded ${new Date().toISOString().slice(0, 10)} on ${machine}; ${load}.\n\n` +
        `Rerun: \`npx tsx bench/realtime-broadcast.ts --record\` (cluster running: \`scripts/sam db start\`).\n\n` +
        `Latency: ${LATENCY_MESSAGES} sequential autocommitted inserts, each awaited at every client; measured from ` +
        `issuing the insert to receipt in the client callback. Throughput: ${BURST_MESSAGES} inserts from ` +
        `${BURST_WRITERS} concurrent connections until every client has every message (deliveries = messages × clients). ` +
        `Server, clients and writers share one Node process.\n\n${table}\n`,
    );
  }
}

await main();
process.exit(0);
