import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceFactory } from '../service.ts';
import type { Service } from '../service.ts';
import { NetWorker, type NetWorkerOptions } from './worker.ts';

/** A pg_net worker service with non-default settings (tests); `netService` is the default one. */
export function netFactory(options: Omit<NetWorkerOptions, 'databaseUrl' | 'log'> = {}): ServiceFactory {
  return async (ctx) => {
    mkdirSync(ctx.runtimeDir, { recursive: true });
    const logFile = join(ctx.runtimeDir, 'net.log');
    const worker = new NetWorker({
      ...options,
      // As `postgres`, the role that owns the app's schema on hosted; it may use the net tables.
      databaseUrl: ctx.databaseUrl('postgres'),
      log: (line) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`),
    });
    await worker.start();
    const service: Service & { worker: NetWorker } = {
      name: 'net',
      prefix: null,
      worker,
      health: () => worker.healthy(),
      close: () => worker.close(),
    };
    return service;
  };
}

/**
 * The pg_net background worker of the local stack: performs the HTTP requests queued with
 * `net.http_get/post/delete` once their transaction commits (sql/bootstrap/40_net.sql).
 */
export const netService: ServiceFactory = netFactory();
