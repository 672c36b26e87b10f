import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { connectionUrl } from '../../supabase/local/postgres/cluster.ts';
import { startMachineHost, type MachineHost, type MachineHostOptions } from '../../local-machines/host.ts';
import { writeOrchestratorEndpoint } from '../../supabase/local/postgres/vault.ts';
import { functionsService } from '../../supabase/local/functions/index.ts';
import { netService } from '../../supabase/local/net/index.ts';
import { startLocalStack, type LocalStack, type StartOptions } from '../../supabase/local/server.ts';
import { builtBundleFromEnv, publishVmAgentBundle } from '../../vm-agent/bundle/publish.ts';
import type { GitHubProviderConfig } from '../../supabase/local/service.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

export interface TestStack {
  db: TestDatabase;
  stack: LocalStack;
  url: string;
  publishableKey: string;
  secretKey: string;
}

/**
 * The secrets supabase/config.toml's [edge_runtime.secrets] promise every function (a missing one
 * fails the function's start), for stacks that serve the real functions without choosing them:
 * fresh random values where none are set, and a machine host URL nothing listens on.
 */
function ensureFunctionSecrets(): void {
  for (const name of ['SAM_JWT_SECRET', 'SAM_ORCHESTRATOR_SECRET', 'SAM_LOCAL_MACHINES_TOKEN', 'SAM_CREDENTIAL_KEY']) {
    process.env[name] ||= randomBytes(32).toString('base64url');
  }
  process.env.SAM_LOCAL_MACHINES_URL ||= 'http://127.0.0.1:9';
}

/** Starts the local stack (all services unless `factories` is given) on a free port, over a fresh test database. */
export async function startTestStack(
  options: Partial<Omit<StartOptions, 'database' | 'databaseUrl' | 'runtimeDir'>> = {},
  label = 'stack',
) {
  if (!options.factories || options.factories.includes(functionsService)) ensureFunctionSecrets();
  const db = await createTestDatabase(label);
  // The vm-agent bundle the test setup built, served by this stack's vm-agent function.
  const bundle = builtBundleFromEnv();
  if (bundle)
    await publishVmAgentBundle(db.url(), bundle).catch(async (e: unknown) => {
      await db.drop();
      throw e;
    });
  const runtimeDir = mkdtempSync(join(tmpdir(), 'sam-stack-'));
  let stack: LocalStack;
  try {
    stack = await startLocalStack({
      port: 0,
      ...options,
      database: db.name,
      databaseUrl: (role) => connectionUrl(db.cluster, role, db.name),
      runtimeDir,
    });
  } catch (e) {
    await db.drop();
    rmSync(runtimeDir, { recursive: true, force: true });
    throw e;
  }
  return {
    db,
    stack,
    url: stack.url,
    publishableKey: stack.ctx.keys.publishableKey,
    secretKey: stack.ctx.keys.secretKey,
    async close() {
      try {
        await stack.close();
      } finally {
        await db.drop();
        rmSync(runtimeDir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * Something the calling test file starts before its tests and closes after them, read through a
 * view that refuses use before it started (the usual `useX()` shape of these helpers).
 */
function perFile<T extends { close(): Promise<void> }>(start: () => Promise<T>): Omit<T, 'close'> {
  let current: T | undefined;
  beforeAll(async () => {
    current = await start();
  }, 120_000);
  afterAll(async () => {
    await current?.close();
  });
  return new Proxy({} as Omit<T, 'close'>, {
    get(_, key) {
      if (!current) throw new Error('the stack starts in beforeAll; use it inside tests or hooks');
      return Reflect.get(current, key, current);
    },
  });
}

/** The calling file's own stack and database, started before its tests and stopped after. */
export function useTestStack(options: Parameters<typeof startTestStack>[0] = {}, label?: string): TestStack {
  return perFile(() => startTestStack(options, label));
}

export interface FunctionsStack {
  readonly db: TestDatabase;
  /** SAM's token secret the functions were started with (SAM_JWT_SECRET). */
  readonly secret: string;
  /** The orchestrator's bearer secret (SAM_ORCHESTRATOR_SECRET). */
  readonly orchestratorSecret: string;
  /** The gateway's URL (the functions' SUPABASE_URL). */
  readonly url: string;
  /** Where a function answers through the gateway, e.g. …/functions/v1/mcp */
  functionUrl(name: string): string;
  /** The local machine host, when started with `{ machines }`. */
  readonly machines: MachineHost;
  /** The running stand-in (its services, e.g. to suspend the functions). */
  readonly stack: LocalStack;
  readonly publishableKey: string;
}

export interface FunctionsStackOptions {
  /**
   * Also run the local cloud: a machine host (the orchestrator's `local` provider) with the pg_net
   * worker, and the Vault secrets that make Postgres wake the orchestrator. A submitted task then
   * goes submit → pg_net → orchestrator (Deno) → provider → a process on the host.
   */
  machines?: Pick<MachineHostOptions, 'command' | 'agentEnv' | 'stopTimeoutMs'>;
  /**
   * Every service of the stand-in (Auth with email confirmation off, REST, Realtime, functions,
   * pg_net), for tests that start where a user starts: in the browser or with supabase-js.
   */
  allServices?: boolean;
  /** With `allServices`: Auth's GitHub provider (read when the stack starts, e.g. a fake's URL). */
  authGitHub?: () => GitHubProviderConfig;
}

/** A running functions stack (see {@link startFunctionsStack}), with the way to stop it. */
export type RunningFunctionsStack = FunctionsStack & { close(): Promise<void> };

/**
 * A stack serving `supabase/config.toml`'s functions under Deno, with fresh secrets
 * (SAM_JWT_SECRET, SAM_ORCHESTRATOR_SECRET, SAM_LOCAL_MACHINES_TOKEN), over a fresh test
 * database. Without `machines` the functions get a machine host URL nothing listens on (the
 * orchestrator's local provider then fails in words). For scripts (benchmarks); tests use
 * {@link useFunctionsStack}.
 */
export async function startFunctionsStack(
  label: string,
  options: FunctionsStackOptions = {},
): Promise<RunningFunctionsStack> {
  const secret = randomBytes(32).toString('base64url');
  const orchestratorSecret = randomBytes(32).toString('base64url');
  const machinesToken = randomBytes(32).toString('base64url');
  process.env.SAM_JWT_SECRET = secret;
  process.env.SAM_ORCHESTRATOR_SECRET = orchestratorSecret;
  process.env.SAM_LOCAL_MACHINES_TOKEN = machinesToken;
  process.env.SAM_CREDENTIAL_KEY = randomBytes(32).toString('base64url');
  process.env.SAM_LOCAL_MACHINES_URL = 'http://127.0.0.1:9';
  let host: MachineHost | undefined;
  let baseDir: string | undefined;
  if (options.machines) {
    baseDir = mkdtempSync(join(tmpdir(), 'sam-machines-'));
    host = await startMachineHost({ ...options.machines, baseDir, token: machinesToken });
    process.env.SAM_LOCAL_MACHINES_URL = host.url;
  }
  let current: Awaited<ReturnType<typeof startTestStack>> | undefined;
  try {
    current = await startTestStack(
      options.allServices
        ? { emailConfirmation: false, authGitHub: options.authGitHub?.() }
        : { factories: options.machines ? [functionsService, netService] : [functionsService] },
      label,
    );
    if (options.machines) {
      await writeOrchestratorEndpoint(current.db.url(), {
        functionsUrl: `${current.url}/functions/v1`,
        secret: orchestratorSecret,
      });
    }
  } catch (e) {
    // Nothing started here outlives a failed start.
    await Promise.allSettled([host?.close(), current?.close()]);
    if (baseDir) rmSync(baseDir, { recursive: true, force: true });
    throw e;
  }
  const started = current;
  return {
    db: started.db,
    secret,
    orchestratorSecret,
    url: started.url,
    functionUrl: (name) => `${started.url}/functions/v1/${name}`,
    stack: started.stack,
    publishableKey: started.publishableKey,
    get machines() {
      if (!host) throw new Error('the functions stack was not asked for { machines }');
      return host;
    },
    // The machines first, while the functions they report to still answer (a vm-agent stops its
    // workspaces gracefully on SIGTERM); each close is bounded (local-machines/host.ts,
    // supabase/local/server.ts).
    async close() {
      try {
        await host?.close();
      } finally {
        await started.close();
        if (baseDir) rmSync(baseDir, { recursive: true, force: true });
      }
    },
  };
}

/** The calling file's own {@link startFunctionsStack}: started before its tests, stopped after. */
export function useFunctionsStack(label: string, options: FunctionsStackOptions = {}): FunctionsStack {
  return perFile(() => startFunctionsStack(label, options));
}
