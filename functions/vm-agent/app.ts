/**
 * The `vm-agent` edge function: where machines dial out to. Nothing calls into a machine.
 * One sub-app per identity, each with its one token middleware:
 *
 *   /vm-agent/nodes/*        nodes.ts       bootstrap token (register), else the node token
 *   /vm-agent/workspaces/*   workspaces.ts  the workspace token
 *   /vm-agent/sessions/*     sessions.ts    the workspace token
 *   /vm-agent/bundle         bundle.ts      none: the vm-agent itself, for machines to install
 *
 * Bodies are the zod contracts of `_shared/common/contracts/vm-agent.ts` (messages: `messages.ts`);
 * errors are `{ error: { code, message, details? } }` with the status, `code` one of the
 * contract's `VmAgentErrorCode`. Every statement runs as the token's identity (`sam_node` /
 * `sam_workspace`) after its `tokens` row is checked live, so RLS and the SQL functions decide;
 * registration alone runs as the system, the one-time bootstrap token being the credential. A node
 * token on a workspace route (or the reverse) is refused with 401.
 */
import { Hono } from 'hono';
import { HttpError } from '../_shared/http-error.ts';
import { jsonNotFound, jsonOnError } from '../_shared/http.ts';
import type { Env, VmAgentDeps } from './context.ts';
import { bundleApp } from './bundle.ts';
import { nodesApp } from './nodes.ts';
import { sessionsApp } from './sessions.ts';
import { workspacesApp } from './workspaces.ts';

export type { VmAgentDeps } from './context.ts';

export function createVmAgentApp(deps: VmAgentDeps): Hono<Env> {
  const app = new Hono<Env>().basePath('/vm-agent');
  app.route('/nodes', nodesApp(deps));
  app.route('/workspaces', workspacesApp(deps));
  app.route('/sessions', sessionsApp(deps));
  app.route('/bundle', bundleApp(deps));

  app.notFound(jsonNotFound);
  const onError = jsonOnError('vm-agent');
  app.onError((err, c) => {
    const wait =
      err instanceof HttpError && err.status === 429 ? (err.details as { retryAfterSeconds?: number }) : null;
    if (wait?.retryAfterSeconds) c.header('retry-after', String(wait.retryAfterSeconds));
    return onError(err, c);
  });

  return app;
}
