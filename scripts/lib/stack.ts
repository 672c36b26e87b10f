import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalStack, type LocalStack } from '../../supabase/local/server.ts';
import {
  APP_DATABASE,
  clusterConfig,
  connectionUrl,
  MIGRATION_ROLE,
  stopCluster,
} from '../../supabase/local/postgres/cluster.ts';
import { databaseStatus, ensureDatabase } from '../../supabase/local/postgres/database.ts';
import { startMachineHost } from '../../local-machines/host.ts';
import { writeOrchestratorEndpoint } from '../../supabase/local/postgres/vault.ts';
import { done, step } from '../../supabase/local/log.ts';
import { paths } from '../../supabase/local/paths.ts';
import { readProjectConfig } from '../../supabase/local/project-config.ts';
import { ensureSecret } from '../../supabase/local/secrets.ts';
import { buildWeb, serveWebApp } from '../../web/serve.ts';
import { buildVmAgentBundle } from '../../vm-agent/bundle/build.ts';
import { publishVmAgentBundle } from '../../vm-agent/bundle/publish.ts';

const pidFile = join(paths.samHome, 'stack.json');

interface StackRecord {
  pid: number;
  url: string;
}

function readRecord(): StackRecord | null {
  if (!existsSync(pidFile)) return null;
  const record = JSON.parse(readFileSync(pidFile, 'utf8')) as StackRecord;
  try {
    process.kill(record.pid, 0);
    return record;
  } catch {
    rmSync(pidFile, { force: true });
    return null;
  }
}

/** What `supabase status` prints: where everything is and the keys a client needs. */
function describe(stack: LocalStack, showSecrets: boolean): string {
  const { keys } = stack.ctx;
  const cluster = clusterConfig();
  const hidden = 'run `scripts/sam status --secrets`';
  const rows: [string, string][] = [
    ['API URL', stack.url],
    ['REST URL', `${stack.url}/rest/v1`],
    ['Realtime URL', `${stack.url.replace(/^http/, 'ws')}/realtime/v1`],
    ['Functions URL', `${stack.url}/functions/v1`],
    ['Local machines', `${process.env.SAM_LOCAL_MACHINES_URL ?? '-'} (machines in ${join(paths.samHome, 'machines')})`],
    ['Auth JWKS', `${stack.url}/auth/v1/.well-known/jwks.json`],
    [
      'DB URL',
      `postgresql://${MIGRATION_ROLE}:<password>@${cluster.host}:${cluster.port}/${APP_DATABASE} (password in .sam/secrets.json)`,
    ],
    ['Publishable key', keys.publishableKey],
    ['Anon key (legacy JWT)', keys.anonJwt],
    ['Secret key', showSecrets ? keys.secretKey : hidden],
    ['Service role key (legacy JWT)', showSecrets ? keys.serviceRoleJwt : hidden],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padStart(width)}: ${v}`).join('\n');
}

/** `sam start`: database, migrations, then every service on one port, in the foreground. */
export async function runStack(): Promise<void> {
  const running = readRecord();
  if (running) {
    done(`The local stack is already running at ${running.url} (pid ${running.pid}).`);
    return;
  }
  const cluster = await ensureDatabase();
  const config = readProjectConfig();
  step('Building the vm-agent bundle (one file, served to machines)…');
  const bundle = await buildVmAgentBundle();
  await publishVmAgentBundle(connectionUrl(cluster, MIGRATION_ROLE, APP_DATABASE), bundle);
  done(`vm-agent ${bundle.version}: ${bundle.bytes} bytes, sha256 ${bundle.sha256}`);
  const runtimeDir = join(paths.samHome, 'stack');
  mkdirSync(runtimeDir, { recursive: true });
  // Function secrets named in config.toml [edge_runtime.secrets] (hosted: `supabase secrets set`).
  process.env.SAM_JWT_SECRET ??= ensureSecret('functions.SAM_JWT_SECRET', () => randomBytes(48).toString('base64url'));
  process.env.SAM_ORCHESTRATOR_SECRET ??= ensureSecret('functions.SAM_ORCHESTRATOR_SECRET', () =>
    randomBytes(32).toString('base64url'),
  );
  process.env.SAM_LOCAL_MACHINES_TOKEN ??= ensureSecret('local-machines.token', () =>
    randomBytes(32).toString('base64url'),
  );
  process.env.SAM_CREDENTIAL_KEY ??= ensureSecret('functions.SAM_CREDENTIAL_KEY', () =>
    randomBytes(32).toString('base64url'),
  );
  // The local cloud: the orchestrator's `local` provider runs machines as vm-agent processes here.
  step('Starting the local machine host…');
  const machinesLog = join(runtimeDir, 'machines.log');
  const machines = await startMachineHost({
    baseDir: join(paths.samHome, 'machines'),
    token: process.env.SAM_LOCAL_MACHINES_TOKEN,
    log: (line) => appendFileSync(machinesLog, `${new Date().toISOString()} ${line}\n`),
  });
  process.env.SAM_LOCAL_MACHINES_URL = machines.url;
  step('Starting the local Supabase services…');
  const stack = await startLocalStack({
    port: Number(process.env.SAM_PORT ?? config.apiPort),
    database: APP_DATABASE,
    databaseUrl: (role) => connectionUrl(cluster, role, APP_DATABASE),
    runtimeDir,
    emailConfirmation: config.emailConfirmation,
    jwtExpiry: config.jwtExpiry,
    authGitHub: config.authGitHub,
    watchFunctions: true,
  }).catch(async (e: unknown) => {
    await machines.close();
    throw e;
  });
  // Postgres wakes the orchestrator through pg_net with what Vault holds (hosted: set once by hand).
  await writeOrchestratorEndpoint(connectionUrl(cluster, MIGRATION_ROLE, APP_DATABASE), {
    functionsUrl: `${stack.url}/functions/v1`,
    secret: process.env.SAM_ORCHESTRATOR_SECRET,
  });
  step('Building the web chat (vite build web)…');
  const built = await buildWeb();
  if (built.code !== 0) throw new Error(`vite build web failed:\n${built.output}`);
  const web = await serveWebApp({
    dir: join(paths.root, 'web', 'dist'),
    supabaseUrl: stack.url,
    publishableKey: stack.ctx.keys.publishableKey,
    port: Number(process.env.SAM_WEB_PORT ?? config.webPort),
  });
  writeFileSync(pidFile, JSON.stringify({ pid: process.pid, url: stack.url, webUrl: web.url }));
  const health = await stack.health();
  done(
    `Started: ${
      Object.entries(health)
        .map(([name, ok]) => `${name} ${ok ? 'up' : 'DOWN'}`)
        .join(', ') || 'database only'
    }`,
  );
  console.log(
    `\n${describe(stack, false)}\n\nWeb chat: ${web.url}\n\nPress Ctrl-C to stop the services (the database keeps running; \`scripts/sam stop\` stops it too).`,
  );
  // Every close is bounded; the machines go first, while the functions they report to answer.
  const shutdown = async () => {
    step('Stopping the local services…');
    const results = await Promise.allSettled([web.close(), machines.close()]);
    results.push(...(await Promise.allSettled([stack.close()])));
    rmSync(pidFile, { force: true });
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    for (const f of failed) console.error(String(f.reason));
    process.exit(failed.length > 0 ? 1 : 0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
  await new Promise(() => {});
}

/** `sam stop`: the services (if running), then the database. */
export async function stopStack(): Promise<void> {
  const record = readRecord();
  if (record) {
    step(`Stopping the local services (pid ${record.pid})…`);
    process.kill(record.pid, 'SIGTERM');
    // Its shutdown is bounded (machines, then services); past that, it is stuck: SIGKILL.
    const deadline = Date.now() + 45_000;
    while (readRecord() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (readRecord()) {
      process.kill(record.pid, 'SIGKILL');
      rmSync(pidFile, { force: true });
    }
  }
  stopCluster(clusterConfig());
  done('Stopped.');
}

/** `sam status`: each service's health, and with `--secrets` the keys. */
export async function stackStatus(showSecrets: boolean): Promise<number> {
  console.log(databaseStatus());
  const record = readRecord();
  if (!record) {
    console.log('services: stopped');
    return databaseStatus().includes('running') ? 0 : 1;
  }
  try {
    const res = await fetch(`${record.url}/health`, { signal: AbortSignal.timeout(5000) });
    const health = (await res.json()) as Record<string, boolean>;
    for (const [name, ok] of Object.entries(health)) console.log(`${name}: ${ok ? 'healthy' : 'UNHEALTHY'}`);
    if (showSecrets) {
      const { loadKeys } = await import('../../supabase/local/keys.ts');
      const keys = await loadKeys(record.url);
      console.log(`Secret key: ${keys.secretKey}\nService role key (legacy JWT): ${keys.serviceRoleJwt}`);
    }
    return res.ok ? 0 : 1;
  } catch (e) {
    console.log(`services: not answering at ${record.url} (${(e as Error).message})`);
    return 1;
  }
}
