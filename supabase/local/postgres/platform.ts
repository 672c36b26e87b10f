import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { APP_DATABASE, connectionUrl, rolePassword, SUPERUSER, type Cluster } from './cluster.ts';
import { step } from '../log.ts';
import { paths } from '../paths.ts';

/**
 * pg_cron may only be created in `cron.database_name`, or in a database named `contrib_regression`
 * (its own test exemption). Test databases are clones of a template that needs the real extension
 * objects, and the cron database can never be a clone source (the scheduler is always connected to
 * it), so the template is cloned from a seed database that carries this name.
 */
export const SEED_DATABASE = 'contrib_regression';

/** Roles that log in, and so get a password. */
const LOGIN_ROLES = ['postgres', 'authenticator', 'supabase_auth_admin'];

function bootstrapFiles(): { name: string; sql: string }[] {
  return readdirSync(paths.bootstrap)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((name) => ({ name, sql: readFileSync(join(paths.bootstrap, name), 'utf8') }));
}

export function bootstrapHash(): string {
  const hash = createHash('sha256');
  for (const f of bootstrapFiles()) hash.update(f.name).update('\0').update(f.sql);
  return hash.digest('hex');
}

export function superuserSql(cluster: Cluster, database: string) {
  return postgres(connectionUrl(cluster, SUPERUSER, database), { max: 1, onnotice: () => {} });
}

/** Applies the per-database bootstrap files to `database`; `withCron` adds the pg_cron file. */
async function applyToDatabase(cluster: Cluster, database: string, withCron: boolean): Promise<void> {
  const sql = superuserSql(cluster, database);
  try {
    for (const file of bootstrapFiles()) {
      if (file.name.startsWith('00_')) continue;
      if (file.name.includes('cron') && !withCron) continue;
      await sql.unsafe(file.sql).catch((e: Error) => {
        throw new Error(`sql/bootstrap/${file.name} in ${database}: ${e.message}`);
      });
    }
  } finally {
    await sql.end();
  }
}

/**
 * Gives the cluster what hosted Supabase has before the first migration: roles, schemas, helpers.
 * Skipped when the bootstrap files have not changed since the last run.
 */
export async function applyPlatformBootstrap(cluster: Cluster, force = false): Promise<void> {
  const marker = join(cluster.dataDir, '..', 'bootstrap.sha256');
  const hash = bootstrapHash();
  if (!force && existsSync(marker) && readFileSync(marker, 'utf8') === hash) return;
  step('Applying the platform bootstrap (roles, auth, realtime, extensions, pg_cron)…');
  const admin = superuserSql(cluster, APP_DATABASE);
  try {
    const roles = bootstrapFiles().filter((f) => f.name.startsWith('00_'));
    for (const file of roles) await admin.unsafe(file.sql);
    for (const role of LOGIN_ROLES) {
      await admin.unsafe(`alter role ${role} password '${rolePassword(role).replace(/'/g, "''")}'`);
    }
    const seed = await admin`select 1 from pg_database where datname = ${SEED_DATABASE}`;
    if (seed.length === 0) await admin.unsafe(`create database ${SEED_DATABASE} template template0`);
  } finally {
    await admin.end();
  }
  await applyToDatabase(cluster, APP_DATABASE, true);
  await applyToDatabase(cluster, SEED_DATABASE, true);
  writeFileSync(marker, hash);
}
