import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { step, warn } from '../log.ts';
import { paths, root } from '../paths.ts';
import { readProjectConfig } from '../project-config.ts';
import { ensureSecret } from '../secrets.ts';

/**
 * The private PostgreSQL 15 cluster of the local stack: Debian's binaries, a project-local data
 * directory, owned by an unprivileged OS user (PostgreSQL refuses to run as root), pg_cron preloaded.
 */
const BIN = process.env.SAM_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const OS_USER = 'sam-postgres';

/** A PostgreSQL 15 program (pg_ctl, pg_dump, …) of the cluster's installation. */
export function pgBinary(name: string): string {
  return join(BIN, name);
}

/** The superuser of the cluster. Like hosted Supabase, it is not the role migrations run as. */
export const SUPERUSER = 'supabase_admin';
/** The role migrations run as: shaped like hosted `postgres` (no superuser). */
export const MIGRATION_ROLE = 'postgres';
/** The database the app uses, and the one pg_cron reads its jobs from. */
export const APP_DATABASE = 'postgres';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

export interface Cluster {
  host: string;
  port: number;
  dataDir: string;
  logFile: string;
  owner: OsUser | null;
}

export function clusterConfig(): Cluster {
  const owner = process.getuid?.() === 0 ? ensureOsUser() : null;
  const preferred = join(paths.samHome, 'db');
  const dataDir = process.env.SAM_DB_DIR ?? (owner && !canReach(owner, paths.samHome) ? fallbackDir(owner) : preferred);
  return {
    host: '127.0.0.1',
    port: Number(process.env.SAM_DB_PORT ?? readProjectConfig().dbPort),
    dataDir: join(dataDir, 'data'),
    logFile: join(dataDir, 'postgres.log'),
    owner,
  };
}

/** A password for a database role, generated once per checkout. */
export function rolePassword(role: string): string {
  return ensureSecret(`db.password.${role}`);
}

export function connectionUrl(cluster: Cluster, role: string, database: string): string {
  const password = encodeURIComponent(rolePassword(role));
  return `postgresql://${role}:${password}@${cluster.host}:${cluster.port}/${database}`;
}

function ensureOsUser(): OsUser {
  const id = (flag: string) => spawnSync('id', [flag, OS_USER], { encoding: 'utf8' });
  if (id('-u').status !== 0) {
    step(`Creating the unprivileged OS user ${OS_USER} that owns the database cluster…`);
    const r = spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', OS_USER], {
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error(`useradd ${OS_USER} failed`);
  }
  return { name: OS_USER, uid: Number(id('-u').stdout.trim()), gid: Number(id('-g').stdout.trim()) };
}

/** Whether `user` can traverse to `dir` (a checkout under /root, say, is closed to others). */
function canReach(user: OsUser, dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  return spawnSync('test', ['-x', dir], { uid: user.uid, gid: user.gid }).status === 0;
}

let warnedFallback = false;

function fallbackDir(user: OsUser): string {
  const base = join('/var/lib', OS_USER);
  mkdirSync(base, { recursive: true, mode: 0o755 });
  chownSync(base, user.uid, user.gid);
  const dir = join(base, createHash('sha256').update(root).digest('hex').slice(0, 12));
  if (!warnedFallback && !process.env.VITEST_WORKER_ID)
    warn(`${paths.samHome} is not reachable by ${user.name}; keeping the cluster in ${dir}`);
  warnedFallback = true;
  return dir;
}

/** Runs as the cluster's owner, from a directory it can enter (the checkout may be closed to it). */
function asOwner(cluster: Cluster): SpawnOptions {
  return cluster.owner ? { uid: cluster.owner.uid, gid: cluster.owner.gid, cwd: join(cluster.dataDir, '..') } : {};
}

function pgCtl(cluster: Cluster, args: string[], inherit = true) {
  return spawnSync(join(BIN, 'pg_ctl'), ['-D', cluster.dataDir, ...args], {
    ...asOwner(cluster),
    stdio: inherit ? 'inherit' : 'pipe',
    encoding: 'utf8',
  });
}

export function isInitialized(cluster: Cluster): boolean {
  return existsSync(join(cluster.dataDir, 'PG_VERSION'));
}

export function isRunning(cluster: Cluster): boolean {
  return isInitialized(cluster) && pgCtl(cluster, ['status'], false).status === 0;
}

function makeOwnedDir(cluster: Cluster, dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (cluster.owner) chownSync(dir, cluster.owner.uid, cluster.owner.gid);
}

function initialize(cluster: Cluster): void {
  step(`Creating the PostgreSQL 15 cluster in ${cluster.dataDir}…`);
  makeOwnedDir(cluster, join(cluster.dataDir, '..'));
  makeOwnedDir(cluster, cluster.dataDir);
  const pwfile = join(cluster.dataDir, '..', '.initdb-pw');
  writeFileSync(pwfile, rolePassword(SUPERUSER) + '\n', { mode: 0o600 });
  if (cluster.owner) chownSync(pwfile, cluster.owner.uid, cluster.owner.gid);
  try {
    const r = spawnSync(
      join(BIN, 'initdb'),
      [
        '-D',
        cluster.dataDir,
        '-U',
        SUPERUSER,
        `--pwfile=${pwfile}`,
        '-A',
        'scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
        '--no-instructions',
      ],
      { ...asOwner(cluster), stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' },
    );
    if (r.status !== 0) throw new Error('initdb failed');
  } finally {
    rmSync(pwfile, { force: true });
  }
  const conf = join(cluster.dataDir, 'postgresql.conf');
  writeFileSync(conf, readFileSync(conf, 'utf8') + "\ninclude 'sam.conf'\n");
}

/** Settings rewritten on every start, so a changed port takes effect. */
function writeSettings(cluster: Cluster): void {
  const file = join(cluster.dataDir, 'sam.conf');
  writeFileSync(
    file,
    [
      '# Written by supabase/local/postgres/cluster.ts on every start; edit there.',
      "listen_addresses = '127.0.0.1'",
      `port = ${cluster.port}`,
      "unix_socket_directories = ''",
      "shared_preload_libraries = 'pg_cron'",
      `cron.database_name = '${APP_DATABASE}'`,
      'cron.use_background_workers = on',
      'max_worker_processes = 48',
      'max_connections = 400',
      // A local stand-in, recreated at will: trade crash safety for speed.
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      "log_min_messages = 'warning'",
      "timezone = 'UTC'",
      '',
    ].join('\n'),
  );
  if (cluster.owner) chownSync(file, cluster.owner.uid, cluster.owner.gid);
}

/** Starts the cluster, creating it first if needed. Returns false when it was already running. */
export function startCluster(cluster: Cluster): boolean {
  if (!isInitialized(cluster)) initialize(cluster);
  if (isRunning(cluster)) return false;
  writeSettings(cluster);
  step(`Starting PostgreSQL on ${cluster.host}:${cluster.port}…`);
  const r = pgCtl(cluster, ['-l', cluster.logFile, '-w', '-t', '60', 'start'], false);
  if (r.status !== 0) {
    const tail = existsSync(cluster.logFile)
      ? readFileSync(cluster.logFile, 'utf8').split('\n').slice(-15).join('\n')
      : '';
    throw new Error(`PostgreSQL did not start (pg_ctl: ${r.stdout}${r.stderr}).\n${tail}`);
  }
  return true;
}

export function stopCluster(cluster: Cluster): boolean {
  if (!isRunning(cluster)) return false;
  step('Stopping PostgreSQL…');
  pgCtl(cluster, ['-w', '-m', 'fast', 'stop'], false);
  return true;
}

export function destroyCluster(cluster: Cluster): void {
  stopCluster(cluster);
  rmSync(cluster.dataDir, { recursive: true, force: true });
}

/** Runs psql as `role` with the password in the environment (never in argv). */
export function psql(cluster: Cluster, role: string, database: string, args: string[], inherit = true) {
  return spawn('psql', ['-h', cluster.host, '-p', String(cluster.port), '-U', role, '-d', database, '-X', ...args], {
    stdio: inherit ? 'inherit' : 'pipe',
    env: { ...process.env, PGPASSWORD: rolePassword(role) },
  });
}
