/**
 * Benchmark: the warm-node claim and each sweep over 1k and 100k nodes.
 *   npx tsx bench/control-plane-sweeps.ts            (the cluster must run: scripts/sam db start)
 * Migrates a scratch database cloned from the platform seed, fills it, times each operation
 * (median of several runs, each in a rolled-back transaction) and prints a markdown table.
 */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { clusterConfig, connectionUrl, MIGRATION_ROLE, SUPERUSER } from '../supabase/local/postgres/cluster.ts';
import { migrate } from '../supabase/local/postgres/migrate.ts';
import { SEED_DATABASE } from '../supabase/local/postgres/platform.ts';

const SIZES = [1_000, 100_000];
const RUNS = 7;

async function withDatabase<T>(fn: (sql: postgres.Sql) => Promise<T>): Promise<T> {
  const cluster = clusterConfig();
  const name = `sam_bench_${randomBytes(4).toString('hex')}`;
  const root = postgres(connectionUrl(cluster, SUPERUSER, 'postgres'), { max: 1, onnotice: () => {} });
  await root.unsafe(`create database ${name} template ${SEED_DATABASE} owner ${MIGRATION_ROLE}`);
  await migrate(connectionUrl(cluster, MIGRATION_ROLE, name));
  const sql = postgres(connectionUrl(cluster, SUPERUSER, name), { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end();
    await root.unsafe(`drop database if exists ${name} with (force)`);
    await root.end();
  }
}

/**
 * Fills n nodes over n/10 owners: 40 % active, 30 % warm (a seventh of them expired), 20 % ready, 10 %
 * destroyed; heartbeats 0–300 s old, workspace activity 0–5 h old; two queued tasks per owner, one
 * past the provisioning timeout and the queue timeout.
 */
async function fill(sql: postgres.Sql, n: number): Promise<void> {
  const owners = Math.max(1, Math.floor(n / 10));
  await sql.unsafe(`
    insert into auth.users (id, email)
    select ('00000000-0000-0000-0000-' || lpad(to_hex(i), 12, '0'))::uuid, 'u' || i || '@bench' from generate_series(1, ${owners}) i;
    insert into public.projects (owner_id, name, repository)
    select id, 'p', 'o/r' from auth.users;
    insert into public.nodes (owner_id, status, vm_size, last_heartbeat_at, last_activity_at, warm_since, warm_until, created_at)
    select ('00000000-0000-0000-0000-' || lpad(to_hex(1 + i % ${owners}), 12, '0'))::uuid,
           s.status::public.node_status, (array['small','medium','large'])[1 + i % 3]::public.vm_size,
           now() - (i % 300) * interval '1 second', now() - (i % 300) * interval '1 minute',
           case when s.status = 'warm' then now() - interval '10 minutes' end,
           case when s.status = 'warm' then now() + case when i % 7 = 0 then interval '-1 minute' else interval '20 minutes' end end,
           now() - interval '1 hour'
      from generate_series(1, ${n}) i
      cross join lateral (select case when i % 10 < 4 then 'active' when i % 10 < 7 then 'warm'
                                      when i % 10 < 9 then 'ready' else 'destroyed' end as status) s;
    insert into public.tasks (project_id, owner_id, title, status, execution_step, step_changed_at, status_changed_at)
    select p.id, p.owner_id, 't', 'queued', 'node_provisioning', now() - g * interval '10 minutes', now() - g * interval '11 minutes'
      from public.projects p cross join generate_series(1, 2) g;
    analyze;`);
}

async function time(sql: postgres.Sql, statement: string): Promise<{ ms: number; rows: string }> {
  const times: number[] = [];
  let rows = '';
  for (let i = 0; i < RUNS; i++) {
    await sql
      .begin(async (tx) => {
        const t0 = performance.now();
        const r = await tx.unsafe(statement);
        times.push(performance.now() - t0);
        rows = JSON.stringify(Object.values(r[0] ?? {})[0] ?? null);
        await tx.unsafe('rollback'); // leave the data as it was for the next run
      })
      .catch((e: Error) => {
        if (!/ROLLBACK|rollback/.test(e.message) && !/not in a transaction/i.test(e.message)) throw e;
      });
  }
  times.sort((a, b) => a - b);
  return { ms: times[Math.floor(times.length / 2)]!, rows };
}

const operations: [string, string][] = [
  [
    'claim_warm_node (one task of an owner with warm nodes)',
    `select public.claim_warm_node((select t.id from public.tasks t join public.nodes n on n.owner_id = t.owner_id and n.status = 'warm' and n.warm_until > now() limit 1))`,
  ],
  ['sweep_warm_nodes', 'select public.sweep_warm_nodes()'],
  ['sweep_stale_heartbeats', 'select public.sweep_stale_heartbeats()'],
  ['sweep_idle_nodes', 'select public.sweep_idle_nodes()'],
  ['sweep_node_lifetime', 'select public.sweep_node_lifetime()'],
  ['sweep_step_timeouts', 'select public.sweep_step_timeouts()'],
  ['sweep_orchestrator_jobs', 'select public.sweep_orchestrator_jobs()'],
  ['sweep_human_input', 'select public.sweep_human_input()'],
];

const results: Record<string, Record<number, { ms: number; rows: string }>> = {};
for (const n of SIZES) {
  await withDatabase(async (sql) => {
    const t0 = performance.now();
    await fill(sql, n);
    console.error(`filled ${n} nodes in ${Math.round(performance.now() - t0)} ms`);
    for (const [label, statement] of operations) {
      (results[label] ??= {})[n] = await time(sql, statement);
    }
  });
}

console.log(`| operation | ${SIZES.map((n) => `${n.toLocaleString('en')} nodes: median ms (result)`).join(' | ')} |`);
console.log(`|---|${SIZES.map(() => '---').join('|')}|`);
for (const [label] of operations) {
  console.log(
    `| ${label} | ${SIZES.map((n) => `${results[label]![n]!.ms.toFixed(1)} (${results[label]![n]!.rows})`).join(' | ')} |`,
  );
}
