import { createHash } from 'node:crypto';
import postgres from 'postgres';
import { clusterConfig, connectionUrl, MIGRATION_ROLE, startCluster, SUPERUSER } from '../../scripts/lib/cluster.ts';
import { step } from '../../scripts/lib/log.ts';
import { listMigrations, migrate } from '../../scripts/lib/migrate.ts';
import { applyPlatformBootstrap, bootstrapHash, SEED_DATABASE } from '../../scripts/lib/platform.ts';
import { TEMPLATE_DATABASE, TEST_DATABASE_PREFIX } from '../helpers/test-database.ts';

/**
 * Once per `vitest run`: make sure the cluster runs, and (re)build the template database when the
 * platform bootstrap or the migrations changed since it was built. Every test file then clones it.
 */
export default async function setup(): Promise<void> {
  const cluster = clusterConfig();
  startCluster(cluster);
  await applyPlatformBootstrap(cluster);

  const hash = createHash('sha256').update(bootstrapHash());
  for (const m of listMigrations()) hash.update(m.file).update('\0').update(m.sql);
  const fingerprint = `sam-template ${hash.digest('hex')}`;

  const root = postgres(connectionUrl(cluster, SUPERUSER, 'postgres'), { max: 1, onnotice: () => {} });
  try {
    const stale = await root`select datname from pg_database where starts_with(datname, ${TEST_DATABASE_PREFIX})`;
    for (const { datname } of stale) await root.unsafe(`drop database if exists ${datname} with (force)`);

    const [current] = await root`
      select shobj_description(oid, 'pg_database') as comment from pg_database where datname = ${TEMPLATE_DATABASE}`;
    if (current?.comment === fingerprint) return;

    step('Building the test template database (platform bootstrap + migrations + pgTAP)…');
    if (current) {
      await root.unsafe(`alter database ${TEMPLATE_DATABASE} is_template false`);
      await root.unsafe(`drop database ${TEMPLATE_DATABASE} with (force)`);
    }
    await root.unsafe(`create database ${TEMPLATE_DATABASE} template ${SEED_DATABASE} owner ${MIGRATION_ROLE}`);
    await migrate(connectionUrl(cluster, MIGRATION_ROLE, TEMPLATE_DATABASE));
    const tmpl = postgres(connectionUrl(cluster, SUPERUSER, TEMPLATE_DATABASE), { max: 1, onnotice: () => {} });
    try {
      await tmpl.unsafe('create extension if not exists pgtap with schema extensions');
    } finally {
      await tmpl.end();
    }
    await root.unsafe(`alter database ${TEMPLATE_DATABASE} is_template true`);
    await root.unsafe(`comment on database ${TEMPLATE_DATABASE} is '${fingerprint}'`);
  } finally {
    await root.end();
  }
}
