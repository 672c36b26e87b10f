import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { connectionUrl } from '../../scripts/lib/cluster.ts';
import { functionsService } from '../../supabase/local/functions/index.ts';
import { startLocalStack, type LocalStack, type StartOptions } from '../../supabase/local/server.ts';
import { createTestDatabase, type TestDatabase } from './test-database.ts';

export interface TestStack {
  db: TestDatabase;
  stack: LocalStack;
  url: string;
  publishableKey: string;
  secretKey: string;
}

/** Starts the local stack (all services unless `factories` is given) on a free port, over a fresh test database. */
export async function startTestStack(
  options: Partial<Omit<StartOptions, 'database' | 'databaseUrl' | 'runtimeDir'>> = {},
  label = 'stack',
) {
  const db = await createTestDatabase(label);
  const runtimeDir = mkdtempSync(join(tmpdir(), 'sam-stack-'));
  const stack = await startLocalStack({
    port: 0,
    ...options,
    database: db.name,
    databaseUrl: (role) => connectionUrl(db.cluster, role, db.name),
    runtimeDir,
  });
  return {
    db,
    stack,
    url: stack.url,
    publishableKey: stack.ctx.keys.publishableKey,
    secretKey: stack.ctx.keys.secretKey,
    async close() {
      await stack.close();
      await db.drop();
      rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}

/** The calling file's own stack and database, started before its tests and stopped after. */
export function useTestStack(options: Parameters<typeof startTestStack>[0] = {}, label?: string): TestStack {
  let current: Awaited<ReturnType<typeof startTestStack>> | undefined;
  beforeAll(async () => {
    current = await startTestStack(options, label);
  }, 120_000);
  afterAll(async () => {
    await current?.close();
  });
  const get = () => {
    if (!current) throw new Error('the stack starts in beforeAll; use it inside tests or hooks');
    return current;
  };
  return {
    get db() {
      return get().db;
    },
    get stack() {
      return get().stack;
    },
    get url() {
      return get().url;
    },
    get publishableKey() {
      return get().publishableKey;
    },
    get secretKey() {
      return get().secretKey;
    },
  };
}

export interface FunctionsStack {
  readonly db: TestDatabase;
  /** SAM's token secret the functions were started with (SAM_JWT_SECRET). */
  readonly secret: string;
  /** The gateway's URL (the functions' SUPABASE_URL). */
  readonly url: string;
  /** Where a function answers through the gateway, e.g. …/functions/v1/mcp */
  functionUrl(name: string): string;
}

/**
 * The calling file's own stack serving `supabase/config.toml`'s functions under Deno, with a
 * fresh SAM_JWT_SECRET, over a fresh test database; started before its tests, stopped after.
 */
export function useFunctionsStack(label: string): FunctionsStack {
  let current: Awaited<ReturnType<typeof startTestStack>> | undefined;
  let secret = '';
  beforeAll(async () => {
    secret = randomBytes(32).toString('base64url');
    process.env.SAM_JWT_SECRET = secret;
    current = await startTestStack({ factories: [functionsService] }, label);
  }, 120_000);
  afterAll(async () => {
    await current?.close();
  });
  const get = () => {
    if (!current) throw new Error('the stack starts in beforeAll; use it inside tests or hooks');
    return current;
  };
  return {
    get db() {
      return get().db;
    },
    get secret() {
      get();
      return secret;
    },
    get url() {
      return get().url;
    },
    functionUrl: (name) => `${get().url}/functions/v1/${name}`,
  };
}
