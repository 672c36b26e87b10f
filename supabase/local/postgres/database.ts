import {
  APP_DATABASE,
  clusterConfig,
  connectionUrl,
  destroyCluster,
  isRunning,
  MIGRATION_ROLE,
  startCluster,
  type Cluster,
} from './cluster.ts';
import { done, step } from '../log.ts';
import { migrate } from './migrate.ts';
import { applyPlatformBootstrap } from './platform.ts';

/** Starts the cluster if needed and brings the app database up to date. Safe to repeat. */
export async function ensureDatabase(cluster: Cluster = clusterConfig()): Promise<Cluster> {
  startCluster(cluster);
  await applyPlatformBootstrap(cluster);
  const result = await migrate(connectionUrl(cluster, MIGRATION_ROLE, APP_DATABASE));
  if (result.applied.length > 0) {
    for (const file of result.applied) step(`applied ${file}`);
  }
  done(
    `Database ready on ${cluster.host}:${cluster.port} (${result.applied.length} migrations applied, ${result.alreadyApplied} already in place)`,
  );
  return cluster;
}

export async function resetDatabase(cluster: Cluster = clusterConfig()): Promise<void> {
  step('Resetting the local database (all data is removed)…');
  destroyCluster(cluster);
  await ensureDatabase(cluster);
}

export function databaseStatus(cluster: Cluster = clusterConfig()): string {
  return isRunning(cluster)
    ? `database: running on ${cluster.host}:${cluster.port} (data ${cluster.dataDir})`
    : `database: stopped (data ${cluster.dataDir})`;
}
