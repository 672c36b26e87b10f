/**
 * `/vm-agent/workspaces`: what a workspace reports about itself, with its workspace token
 * (one middleware). Every transition answers whether it changed anything.
 *
 *   POST /ready      {}
 *   POST /failed     {error}
 *   POST /stopped    {}
 *   POST /complete   {gitPushResult, summary?} → the task's state
 */
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import {
  CompleteWorkspaceRequest,
  EmptyRequest,
  WorkspaceFailedRequest,
} from '../_shared/common/contracts/vm-agent.ts';
import type { Tx } from '../_shared/db.ts';
import { jsonBody, limitBody } from '../_shared/http.ts';
import { asCaller } from '../_shared/vm-agent/identity.ts';
import { tokenAuth, type Env, type VmAgentDeps } from './context.ts';

type Row = Record<string, unknown>;

export function workspacesApp(deps: VmAgentDeps): Hono<Env> {
  const { sql, secret } = deps;
  const app = new Hono<Env>();
  // Bodies are bounded before auth: no caller, with a token or without, makes the function read more.
  app.use('*', limitBody(64 * 1024));
  app.use('*', tokenAuth(secret, 'workspace'));

  const transition =
    (call: (tx: Tx, error: string) => Promise<Row[]>, schema: z.ZodType<{ error?: string }>) =>
    async (c: Context<Env>) => {
      const req = await jsonBody(c, schema);
      const [row] = await asCaller(sql, c.get('claims'), (tx) => call(tx, req.error ?? ''));
      return c.json({ changed: row!.r as boolean });
    };
  app.post(
    '/ready',
    transition((tx) => tx`select public.workspace_ready() as r`, EmptyRequest),
  );
  app.post(
    '/stopped',
    transition((tx) => tx`select public.workspace_stopped() as r`, EmptyRequest),
  );
  app.post(
    '/failed',
    transition((tx, error) => tx`select public.workspace_failed(${error}) as r`, WorkspaceFailedRequest),
  );

  app.post('/complete', async (c) => {
    const req = await jsonBody(c, CompleteWorkspaceRequest);
    const [row] = await asCaller(
      sql,
      c.get('claims'),
      (tx) => tx`select public.workspace_complete(${tx.json(req.gitPushResult as never)}, ${req.summary ?? null}) as r`,
    );
    return c.json(row!.r as Record<string, unknown>);
  });

  return app;
}
