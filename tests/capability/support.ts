import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { APP_DATABASE, clusterConfig, connectionUrl, SUPERUSER } from '../../supabase/local/postgres/cluster.ts';

/**
 * Schedules `command` to run every minute in `database` through the cluster's real pg_cron
 * (`cron.schedule_in_database`: pg_cron's jobs live in its one cron database, `postgres`; a test
 * database is a clone and has no scheduler of its own). Returns the unschedule function.
 */
export async function scheduleCronIn(database: string, name: string, command: string): Promise<() => Promise<void>> {
  const cluster = clusterConfig();
  const cron = postgres(connectionUrl(cluster, SUPERUSER, APP_DATABASE), { max: 1, onnotice: () => {} });
  const jobName = `${name}-${database}`;
  try {
    await cron`select cron.schedule_in_database(${jobName}, '* * * * *', ${command}, ${database})`;
  } catch (e) {
    await cron.end();
    throw e;
  }
  return async () => {
    try {
      await cron`select cron.unschedule(jobid) from cron.job where jobname = ${jobName}`;
    } finally {
      await cron.end();
    }
  };
}

/** A failed test's explanation: every machine's vm-agent log under `baseDir`, printed. */
export function printMachineLogs(baseDir: string): void {
  for (const dir of readdirSync(baseDir)) {
    const log = join(baseDir, dir, 'vm-agent.log');
    if (existsSync(log)) console.log(`--- ${dir}/vm-agent.log\n${readFileSync(log, 'utf8')}`);
  }
}

/** The task a web URL has open (`#/p/<project>/t/<task>?…`), without the query after it; null on no task. */
export function taskIdInUrl(url: string): string | null {
  return /\/t\/([0-9a-f-]{36})(?:\?|$)/.exec(new URL(url).hash)?.[1] ?? null;
}
