// The `sam` command line: start and stop the local stack, manage its database, run the tests.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { done } from '../supabase/local/log.ts';
import {
  APP_DATABASE,
  clusterConfig,
  connectionUrl,
  MIGRATION_ROLE,
  psql,
  startCluster,
  stopCluster,
} from '../supabase/local/postgres/cluster.ts';
import { databaseStatus, ensureDatabase, resetDatabase } from '../supabase/local/postgres/database.ts';
import { dumpAppSchema, SCHEMA_FILE, schemaPath } from '../supabase/local/postgres/dump.ts';
import { applyPlatformBootstrap } from '../supabase/local/postgres/platform.ts';
import { root } from '../supabase/local/paths.ts';
import { runStack, stackStatus, stopStack } from './lib/stack.ts';

const HELP = `sam — SAM on Supabase, locally

  sam start              start the local stack: database, migrations, Auth, REST,
                         Realtime, Functions, pg_net on one port (foreground)
  sam stop               stop the services and the database
  sam status [--secrets] each service's health (and the secret keys)
  sam db start|stop|status|reset|dump
  sam db psql [psql args]  psql into the app database as the migration role
  sam db dump            write supabase/schema.sql: the schema the migrations make
  sam migrate            apply pending migrations
  sam bundle [--publish] build the vm-agent bundle into SAM_HOME; --publish stores it in
                         the database of SAM_BUNDLE_DATABASE_URL (hosted: the project's
                         direct connection string) or else the local one
  sam test [vitest args] run every test (vitest + pgTAP)
  sam check              format, lint, typecheck (tsc, deno check), tests

Environment: SAM_PORT (54321), SAM_DB_PORT (54322), SAM_HOME (.sam), SAM_DB_DIR.
Ports default to supabase/config.toml.`;

function exitWith(child: ReturnType<typeof spawn>): Promise<never> {
  return new Promise(() => {
    child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  });
}

function runBin(bin: string, args: string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(`${root}/node_modules/.bin/${bin}`, args, { stdio: 'inherit', cwd: root });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

async function db(sub: string | undefined, rest: string[]): Promise<void> {
  const cluster = clusterConfig();
  switch (sub) {
    case 'start':
      await ensureDatabase(cluster);
      return;
    case 'stop':
      stopCluster(cluster);
      return;
    case 'status':
      console.log(databaseStatus(cluster));
      return;
    case 'reset':
      await resetDatabase(cluster);
      return;
    case 'psql':
      await exitWith(psql(cluster, MIGRATION_ROLE, APP_DATABASE, rest));
      return;
    case 'dump':
      startCluster(cluster);
      await applyPlatformBootstrap(cluster);
      writeFileSync(schemaPath, await dumpAppSchema(cluster));
      done(`Wrote ${SCHEMA_FILE}`);
      return;
    default:
      console.error(`unknown: sam db ${sub ?? ''}\n\n${HELP}`);
      process.exit(2);
  }
}

async function test(args: string[]): Promise<void> {
  await ensureDatabase();
  process.exit(await runBin('vitest', ['run', ...args]));
}

async function check(): Promise<void> {
  const steps: [string, string[]][] = [
    ['prettier', ['--check', '.']],
    ['eslint', ['.']],
    ['tsc', ['--noEmit', '-p', 'tsconfig.json']],
    ['tsc', ['--noEmit', '-p', 'web/tsconfig.json']],
    ['deno', ['check', '--quiet', 'functions']],
  ];
  for (const [bin, args] of steps) {
    console.error(`▸ ${bin} ${args.join(' ')}`);
    const code = await runBin(bin, args);
    if (code !== 0) process.exit(code);
  }
  await test([]);
}

/** `sam bundle`: the vm-agent as one file (vm-agent/bundle/build.ts), optionally published. */
async function bundle(publish: boolean): Promise<void> {
  const { buildVmAgentBundle } = await import('../vm-agent/bundle/build.ts');
  const { publishVmAgentBundle } = await import('../vm-agent/bundle/publish.ts');
  const built = await buildVmAgentBundle();
  done(`vm-agent ${built.version}: ${built.file} (${built.bytes} bytes, sha256 ${built.sha256})`);
  if (!publish) return;
  const url =
    process.env.SAM_BUNDLE_DATABASE_URL ?? connectionUrl(await ensureDatabase(), MIGRATION_ROLE, APP_DATABASE);
  await publishVmAgentBundle(url, built);
  done('Published: the vm-agent function now serves it.');
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'start':
    await runStack();
    break;
  case 'stop':
    await stopStack();
    break;
  case 'status':
    process.exit(await stackStatus(rest.includes('--secrets')));
    break;
  case 'db':
    await db(rest[0], rest.slice(1));
    break;
  case 'migrate':
    await ensureDatabase();
    break;
  case 'bundle':
    await bundle(rest.includes('--publish'));
    break;
  case 'test':
    await test(rest);
    break;
  case 'check':
    await check();
    break;
  case undefined:
  case 'help':
  case '--help':
  case '-h':
    console.log(HELP);
    break;
  default:
    console.error(`unknown command: ${command}\n\n${HELP}`);
    process.exit(2);
}
