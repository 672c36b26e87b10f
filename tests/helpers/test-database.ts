import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, beforeAll } from 'vitest';
import {
  clusterConfig,
  connectionUrl,
  MIGRATION_ROLE,
  SUPERUSER,
  type Cluster,
} from '../../supabase/local/postgres/cluster.ts';

import { templateDatabaseName } from './template.ts';

/**
 * Test databases share this prefix and carry the creating process's pid, so leftovers of a run
 * that crashed can be told from databases another run is still using.
 */
export const TEST_DATABASE_PREFIX = 'sam_t_';

/** The pid in a test database's name, if it is one. */
export function testDatabaseOwnerPid(name: string): number | null {
  const m = /^sam_t_.*_p(\d+)_[0-9a-f]{8}$/.exec(name);
  return m ? Number(m[1]) : null;
}

export interface TestDatabase {
  name: string;
  cluster: Cluster;
  /** A connection URL for `role` (the migration role by default). */
  url(role?: string): string;
  /** A superuser connection, for setup that the app's roles may not do. */
  admin: postgres.Sql;
}

/** Creates a database cloned from the migrated template (tests/setup/global.ts builds it), dropped again when `drop` is called. */
export async function createTestDatabase(label = 'db'): Promise<TestDatabase & { drop(): Promise<void> }> {
  const cluster = clusterConfig();
  const name = `${TEST_DATABASE_PREFIX}${label
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()
    .slice(0, 30)}_p${process.pid}_${randomBytes(4).toString('hex')}`;
  const root = postgres(connectionUrl(cluster, SUPERUSER, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    await root.unsafe(`create database ${name} template ${templateDatabaseName()} owner ${MIGRATION_ROLE}`);
  } finally {
    await root.end();
  }
  const admin = postgres(connectionUrl(cluster, SUPERUSER, name), { max: 4, onnotice: () => {} });
  return {
    name,
    cluster,
    admin,
    url: (role = MIGRATION_ROLE) => connectionUrl(cluster, role, name),
    async drop() {
      await admin.end({ timeout: 5 });
      const r = postgres(connectionUrl(cluster, SUPERUSER, 'postgres'), { max: 1, onnotice: () => {} });
      try {
        await r.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await r.end();
      }
    },
  };
}

/**
 * Gives the calling test file its own database, cloned from the migrated template before the
 * file's tests run and dropped after them. Use the returned object inside tests and hooks.
 */
export function useTestDatabase(label?: string): TestDatabase {
  let db: (TestDatabase & { drop(): Promise<void> }) | undefined;
  const get = () => {
    if (!db) throw new Error('the test database is created in beforeAll; use it inside tests or hooks');
    return db;
  };
  beforeAll(async () => {
    db = await createTestDatabase(label);
  });
  afterAll(async () => {
    await db?.drop();
  });
  return {
    get name() {
      return get().name;
    },
    get cluster() {
      return get().cluster;
    },
    get admin() {
      return get().admin;
    },
    url: (role?: string) => get().url(role),
  };
}
