/**
 * The `orchestrator` edge function: runs the jobs whose side effects are outside Postgres
 * (machines, pull requests, titles). Postgres wakes it (pg_net, `sam_wake_orchestrator()`) when jobs
 * are enqueued and once a minute while some are due; it authenticates the caller with its own
 * secret (verify_jwt is off: the caller is Postgres, not a user).
 *
 *   POST /orchestrator/run   Bearer SAM_ORCHESTRATOR_SECRET, RunRequest → { ran, succeeded, failed[, orphans] }
 *
 * Errors are `{ error: { code, message, details? } }` with the status.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { RunRequest, type RunResponse } from '../_shared/common/contracts/orchestrator.ts';
import type { Sql } from '../_shared/db.ts';
import { HttpError } from '../_shared/http-error.ts';
import { jsonBody, jsonNotFound, jsonOnError, limitBody } from '../_shared/http.ts';
import { bearerToken, sameSecret } from '../_shared/common/bearer.ts';
import { sweepOrphans } from '../_shared/orchestrator/orphans.ts';
import type { JobContext } from '../_shared/orchestrator/jobs.ts';
import { runDueJobs, type RunOptions } from '../_shared/orchestrator/run.ts';
import type { ProviderRegistry } from '../_shared/providers/registry.ts';

export interface OrchestratorDeps {
  sql: Sql;
  /** The bearer Postgres sends (`SAM_ORCHESTRATOR_SECRET`; Vault `sam_orchestrator_secret`). */
  secret: string;
  providers: ProviderRegistry;
  /** Where machines register: `${SUPABASE_URL}/functions/v1/vm-agent`. */
  controlPlaneUrl: string;
  run?: RunOptions;
  titles?: JobContext['titles'];
  credentialKey?: JobContext['credentialKey'];
  clock?: JobContext['clock'];
  github?: JobContext['github'];
}

export function createOrchestratorApp(deps: OrchestratorDeps): Hono {
  if (!deps.secret) throw new Error('the orchestrator needs its secret');
  const app = new Hono().basePath('/orchestrator');
  const ctx: JobContext = {
    sql: deps.sql,
    providers: deps.providers,
    controlPlaneUrl: deps.controlPlaneUrl,
    titles: deps.titles,
    credentialKey: deps.credentialKey,
    clock: deps.clock,
    github: deps.github,
  };

  const auth: MiddlewareHandler = async (c, next) => {
    const given = bearerToken(c.req.header('authorization'));
    if (given === undefined || !(await sameSecret(given, deps.secret))) {
      throw new HttpError(401, 'unauthorized', 'The orchestrator secret is required');
    }
    await next();
  };
  // The body is bounded first: no one, with the secret or without, makes the function read more.
  app.use('*', limitBody(16 * 1024));
  app.use('*', auth);

  app.post('/run', async (c) => {
    const req = await jsonBody(c, RunRequest);
    const summary: RunResponse = await runDueJobs(ctx, deps.run);
    if (req.sweepOrphans) summary.orphans = await sweepOrphans(ctx);
    return c.json(summary);
  });

  app.notFound(jsonNotFound);
  app.onError(jsonOnError('orchestrator'));

  return app;
}
