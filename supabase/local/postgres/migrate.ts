import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import postgres from 'postgres';
import { paths } from '../paths.ts';

/** Supabase CLI naming: `<14-digit timestamp>_<name>.sql`. */
const MIGRATION_FILE = /^(\d{14})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  version: string;
  name: string;
  file: string;
  sql: string;
}

export function listMigrations(dir = paths.migrations): Migration[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((file) => {
      const m = MIGRATION_FILE.exec(file);
      if (!m) throw new Error(`${file}: migration files are named <YYYYMMDDHHMMSS>_<snake_case_name>.sql`);
      return { version: m[1]!, name: m[2]!, file, sql: readFileSync(join(dir, file), 'utf8') };
    });
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Applies pending migrations in order, each in its own transaction, recording them in
 * `supabase_migrations.schema_migrations` exactly as `supabase db push` does, so the same folder
 * can be pushed to a hosted project. `url` must connect as the migration role.
 */
export async function migrate(url: string, dir = paths.migrations): Promise<MigrateResult> {
  const migrations = listMigrations(dir);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(`
      create schema if not exists supabase_migrations;
      create table if not exists supabase_migrations.schema_migrations (
        version text not null primary key,
        statements text[],
        name text
      );`);
    const done = new Set(
      (await sql`select version from supabase_migrations.schema_migrations`).map((r) => r.version as string),
    );
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await sql
        .begin(async (tx) => {
          await tx.unsafe(m.sql);
          await tx`insert into supabase_migrations.schema_migrations (version, statements, name)
                   values (${m.version}, ${[m.sql]}, ${m.name})`;
        })
        .catch((e: Error) => {
          throw new Error(`migration ${m.file} failed: ${e.message}`);
        });
      applied.push(m.file);
    }
    return { applied, alreadyApplied: migrations.length - applied.length };
  } finally {
    await sql.end();
  }
}
