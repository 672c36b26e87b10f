import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { PROCESS_REGISTRY_ENV } from '../../supabase/local/child-process.ts';
import {
  clusterConfig,
  connectionUrl,
  MIGRATION_ROLE,
  startCluster,
  SUPERUSER,
} from '../../supabase/local/postgres/cluster.ts';
import { step } from '../../supabase/local/log.ts';
import { migrate } from '../../supabase/local/postgres/migrate.ts';
import { applyPlatformBootstrap, SEED_DATABASE } from '../../supabase/local/postgres/platform.ts';
import { TEMPLATE_PREFIX, templateDatabaseName } from '../helpers/template.ts';
import { TEST_DATABASE_PREFIX, testDatabaseOwnerPid } from '../helpers/test-database.ts';
import { findSurvivors, killSurvivors } from './survivors.ts';
import { buildVmAgentBundle } from '../../vm-agent/bundle/build.ts';
import { BUNDLE_FILE_ENV } from '../../vm-agent/bundle/publish.ts';

/** Templates kept besides the current one, for runs over other migrations still going on. */
const KEEP_TEMPLATES = 8;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Once per `vitest run`: make sure the cluster runs, and build the template database for the
 * current platform bootstrap and migrations if it does not exist yet. Every test file clones it.
 * The returned teardown fails the run when a process a test started is still alive.
 */
export default async function setup(): Promise<() => void> {
  const runDir = mkdtempSync(join(tmpdir(), 'sam-test-run-'));
  const registry = join(runDir, 'processes.jsonl');
  // The shared cluster outlives the run: started before the registry is set, it does not carry it.
  await prepareDatabase();
  // Inherited by the test workers, which record every process the stand-in starts there.
  process.env[PROCESS_REGISTRY_ENV] = registry;
  // The vm-agent as one file, built once per run into SAM_HOME; every test stack publishes it.
  process.env[BUNDLE_FILE_ENV] = (await buildVmAgentBundle()).file;
  return () => {
    const survivors = findSurvivors(registry, process.pid);
    killSurvivors(survivors);
    rmSync(runDir, { recursive: true, force: true });
    if (survivors.length > 0) {
      // vitest reports an error thrown here but would still exit 0.
      process.exitCode = 1;
      const list = survivors.map((s) => `  pid ${s.pid}: ${s.what} (${s.command})`).join('\n');
      throw new Error(
        `${survivors.length} process(es) started by the tests were still running after them (now killed):\n${list}`,
      );
    }
  };
}

async function prepareDatabase(): Promise<void> {
  const cluster = clusterConfig();
  startCluster(cluster);
  await applyPlatformBootstrap(cluster);
  const template = templateDatabaseName();

  const root = postgres(connectionUrl(cluster, SUPERUSER, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    // One builder at a time across concurrent runs.
    await root`select pg_advisory_lock(hashtext('sam test template'))`;
    const dbs = await root`select datname, datistemplate from pg_database order by oid`;
    for (const { datname } of dbs) {
      const pid = testDatabaseOwnerPid(datname as string);
      if ((datname as string).startsWith(TEST_DATABASE_PREFIX) && (pid === null || !alive(pid))) {
        await root.unsafe(`drop database if exists ${datname} with (force)`);
      }
    }
    const templates = dbs
      .map((d) => d.datname as string)
      .filter((n) => n.startsWith(TEMPLATE_PREFIX) && n !== template);
    for (const old of templates.slice(0, Math.max(0, templates.length - KEEP_TEMPLATES))) {
      await root.unsafe(`alter database ${old} is_template false`);
      await root.unsafe(`drop database if exists ${old}`).catch(() => {});
    }
    if (dbs.some((d) => d.datname === template)) return;

    step('Building the test template database (platform bootstrap + migrations + pgTAP)…');
    const building = `${template}_building`;
    await root.unsafe(`drop database if exists ${building} with (force)`);
    await root.unsafe(`create database ${building} template ${SEED_DATABASE} owner ${MIGRATION_ROLE}`);
    await migrate(connectionUrl(cluster, MIGRATION_ROLE, building));
    const tmpl = postgres(connectionUrl(cluster, SUPERUSER, building), { max: 1, onnotice: () => {} });
    try {
      await tmpl.unsafe('create extension if not exists pgtap with schema extensions');
    } finally {
      await tmpl.end();
    }
    await root.unsafe(`alter database ${building} rename to ${template}`);
    await root.unsafe(`alter database ${template} is_template true`);
  } finally {
    await root`select pg_advisory_unlock(hashtext('sam test template'))`.catch(() => {});
    await root.end();
  }
}
