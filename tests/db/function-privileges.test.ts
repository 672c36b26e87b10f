import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterConfig, connectionUrl, MIGRATION_ROLE, SUPERUSER } from '../../supabase/local/postgres/cluster.ts';
import { listMigrations, migrate } from '../../supabase/local/postgres/migrate.ts';
import { paths } from '../../supabase/local/paths.ts';
import { SEED_DATABASE } from '../../supabase/local/postgres/platform.ts';
import { TEST_DATABASE_PREFIX } from '../helpers/test-database.ts';

/**
 * Older platform images grant EXECUTE on every new function in `public` to anon and authenticated
 * by default. The migrations must not rely on the secure-by-default image: on a database with the
 * permissive defaults, built from the platform seed before any migration runs, no internal
 * SECURITY DEFINER function may be callable by a user, while the RPCs users call still are.
 */
const REVOKE_MIGRATION = '20261202000900_revoke_function_defaults.sql';

/** What `authenticated` is meant to execute among SECURITY DEFINER functions (the user-facing RPCs). */
const USER_RPCS = [
  'submit_task(uuid,text,jsonb)',
  'ready_task(uuid)',
  'rerun_task(uuid)',
  'run_task(uuid)',
  'complete_task(uuid,text,text,jsonb)',
  'fail_task(uuid,text)',
  'cancel_task(uuid,text)',
  'retry_task(uuid,text)',
  'fork_task(uuid,text,jsonb)',
  'destroy_node(uuid,text)',
  'stop_workspace(uuid,text)',
  'stop_agent_session(uuid,text)',
  'revoke_token(uuid,text)',
  'post_message(uuid,text,text)',
  'answer_human_input(uuid,text)',
  'send_directive(uuid,text,text,jsonb)',
  'create_idea(text,text,integer,uuid)',
  'update_idea(uuid,jsonb)',
  'get_session_messages(uuid,integer,bigint,bigint)',
  'sam_can_use_topic(text)',
  'answer_permission_request(uuid,text)',
  'revoke_permission_always(uuid)',
  'set_task_budget(uuid,jsonb)',
  'continue_task_budget(uuid,jsonb)',
  'stop_task_budget(uuid)',
  'add_byo_node(text,vm_size)',
  'move_idea(uuid,text)',
  'stop_task(uuid,integer,text)',
].sort();

const cluster = clusterConfig();
const created: string[] = [];
const dirs: string[] = [];

/** A fresh database from the platform seed, given the permissive defaults, then migrated from `dir`. */
async function permissiveDatabase(dir = paths.migrations): Promise<postgres.Sql> {
  const name = `${TEST_DATABASE_PREFIX}permissive_p${process.pid}_${randomBytes(4).toString('hex')}`;
  const root = postgres(connectionUrl(cluster, SUPERUSER, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    // The seed can be cloned only while nobody is connected to it: the same lock the template builder takes.
    await root`select pg_advisory_lock(hashtext('sam test template'))`;
    await root.unsafe(`create database ${name} template ${SEED_DATABASE} owner ${MIGRATION_ROLE}`);
    created.push(name);
  } finally {
    await root`select pg_advisory_unlock(hashtext('sam test template'))`.catch(() => {});
    await root.end();
  }
  const admin = postgres(connectionUrl(cluster, SUPERUSER, name), { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`
      alter default privileges for role ${MIGRATION_ROLE} in schema public
        grant all on functions to anon, authenticated, service_role`);
    await migrate(connectionUrl(cluster, MIGRATION_ROLE, name), dir);
  } catch (e) {
    await admin.end();
    throw e;
  }
  return admin;
}

async function executable(admin: postgres.Sql, role: string, securityDefinerOnly: boolean): Promise<string[]> {
  const rows = await admin`
    select replace(replace(p.oid::regprocedure::text, 'public.', ''), ' ', '') as fn from pg_proc p
     where p.pronamespace = 'public'::regnamespace and has_function_privilege(${role}, p.oid, 'execute')
       and (p.prosecdef or not ${securityDefinerOnly})
     order by 1`;
  return rows.map((r) => r.fn as string);
}

afterAll(async () => {
  const root = postgres(connectionUrl(cluster, SUPERUSER, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    for (const name of created) await root.unsafe(`drop database if exists ${name} with (force)`);
  } finally {
    await root.end();
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('function privileges on a platform that grants new functions to anon and authenticated', () => {
  it('without the revoke migration, internal SECURITY DEFINER functions would be callable by users', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sam-migrations-'));
    dirs.push(dir);
    for (const m of listMigrations()) {
      if (m.file < REVOKE_MIGRATION) cpSync(join(paths.migrations, m.file), join(dir, m.file));
    }
    const admin = await permissiveDatabase(dir);
    try {
      const definer = await executable(admin, 'authenticated', true);
      expect(definer).toContain('issue_bootstrap_token(uuid)');
      expect(definer).toContain('sam_enqueue_job(text,uuid,uuid,uuid,uuid,jsonb,text)');
    } finally {
      await admin.end();
    }
  }, 120_000);

  it('with every migration, anon executes nothing and authenticated exactly the user-facing RPCs', async () => {
    const admin = await permissiveDatabase();
    try {
      expect(await executable(admin, 'anon', false)).toEqual([]);
      expect(await executable(admin, 'authenticated', true)).toEqual(USER_RPCS);
      const [svc] = await admin`
        select has_function_privilege('service_role', 'public.issue_bootstrap_token(uuid)', 'execute') as ok`;
      expect(svc!.ok).toBe(true);

      // A function a later migration makes is not granted to users by the permissive default either.
      await admin.unsafe(`set role ${MIGRATION_ROLE}; create function public.made_later() returns int
        language sql security definer as 'select 1'; reset role`);
      const [later] = await admin`
        select has_function_privilege('anon', 'public.made_later()', 'execute') as anon,
               has_function_privilege('authenticated', 'public.made_later()', 'execute') as authenticated,
               has_function_privilege('service_role', 'public.made_later()', 'execute') as service_role`;
      expect(later).toEqual({ anon: false, authenticated: false, service_role: true });
    } finally {
      await admin.end();
    }
  }, 120_000);
});
