import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { rolePassword, SUPERUSER } from '../../supabase/local/postgres/cluster.ts';
import { listMigrations, migrate } from '../../supabase/local/postgres/migrate.ts';
import { useTestDatabase } from '../helpers/test-database.ts';
import { runCommand } from '../helpers/processes.ts';

const db = useTestDatabase('migrations');

async function dump(): Promise<string> {
  const { cluster, name } = db;
  const r = await runCommand(
    'pg_dump',
    [
      '-h',
      cluster.host,
      '-p',
      String(cluster.port),
      '-U',
      SUPERUSER,
      '-d',
      name,
      '--restrict-key=sam',
      '--exclude-schema=supabase_migrations',
    ],
    { env: { ...process.env, PGPASSWORD: rolePassword(SUPERUSER) } },
  );
  expect(r.stderr).toBe('');
  return r.stdout;
}

function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sam-migrations-'));
  for (const [file, sql] of Object.entries(files)) writeFileSync(join(dir, file), sql);
  return dir;
}

describe('migrations', () => {
  it('run as a role without superuser rights, like hosted postgres', async () => {
    const sql = postgres(db.url(), { max: 1 });
    try {
      const [role] =
        await sql`select rolsuper, rolcreaterole, rolcreatedb, rolbypassrls from pg_roles where rolname = current_user`;
      expect(role).toEqual({ rolsuper: false, rolcreaterole: true, rolcreatedb: true, rolbypassrls: true });
    } finally {
      await sql.end();
    }
  });

  it.each([
    ['granting itself superuser', 'alter role postgres superuser;'],
    ['running a server program', "create table public.t (line text); copy public.t from program 'id';"],
    ['an untrusted extension', 'create extension pg_stat_statements;'],
    [
      'an event trigger',
      "create function public.f() returns event_trigger language plpgsql as 'begin end'; create event trigger e on ddl_command_end execute function public.f();",
    ],
  ])('that need superuser rights are refused (%s) and leave nothing behind', async (_label, statement) => {
    const dir = migrationsDir({ '20990101000000_needs_superuser.sql': statement });
    await expect(migrate(db.url(), dir)).rejects.toThrow(
      /20990101000000_needs_superuser\.sql failed: .*(must be superuser|permission denied|pg_execute_server_program)/,
    );
    const applied =
      await db.admin`select version from supabase_migrations.schema_migrations where version = '20990101000000'`;
    expect(applied).toHaveLength(0);
    const leftovers = await db.admin`
      select proname as name from pg_proc where proname = 'f' and pronamespace = 'public'::regnamespace
      union all select relname from pg_class where relname = 't' and relnamespace = 'public'::regnamespace`;
    expect(leftovers).toHaveLength(0);
  });

  it('are refused when a file is not named like the Supabase CLI names them', () => {
    const dir = migrationsDir({ '1_init.sql': 'select 1;' });
    expect(() => listMigrations(dir)).toThrow(/<YYYYMMDDHHMMSS>_<snake_case_name>\.sql/);
  });

  it('applied twice change nothing', async () => {
    const before = await dump();
    const recordsBefore =
      await db.admin`select version, name from supabase_migrations.schema_migrations order by version`;
    expect(recordsBefore.map((r) => r.version)).toEqual(listMigrations().map((m) => m.version));

    // The runner skips what is recorded…
    const again = await migrate(db.url());
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBe(listMigrations().length);

    // …and every migration is itself safe to run again, should a hand re-run it.
    const sql = postgres(db.url(), { max: 1, onnotice: () => {} });
    try {
      for (const m of listMigrations()) await sql.begin((tx) => tx.unsafe(m.sql));
    } finally {
      await sql.end();
    }
    expect(await dump()).toBe(before);
    const recordsAfter =
      await db.admin`select version, name from supabase_migrations.schema_migrations order by version`;
    expect(recordsAfter).toEqual(recordsBefore);
  });
});

describe('the database cluster', () => {
  it('is not run by root', async () => {
    const [row] = await db.admin`select current_setting('data_directory') as dir`;
    const dir = row!.dir as string;
    const pid = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)![1]);
    expect(uid).not.toBe(0);
  });

  it('preloads pg_cron and serves the app database', async () => {
    const [row] =
      await db.admin`select current_setting('shared_preload_libraries') as libs, current_setting('cron.database_name') as cron_db`;
    expect(row!.libs).toContain('pg_cron');
    expect(row!.cron_db).toBe('postgres');
    const jobs = await db.admin`select count(*)::int as n from cron.job`;
    expect(jobs[0]!.n).toBeGreaterThanOrEqual(0);
  });
});
