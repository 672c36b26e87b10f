/**
 * `/vm-agent/workspaces`: what a workspace reports about itself, with its workspace token
 * (one middleware). Every transition answers whether it changed anything.
 *
 *   POST /ready      {}
 *   POST /failed     {error}
 *   POST /stopped    {}
 *   POST /complete   {gitPushResult, summary?} → the task's state
 *   POST /git-token  {host, path} → {token, expiresAt, username?}: a GitHub installation token for
 *                    the task's own repository only (403 for any other), minted for that repository's
 *                    id — or, for a repository on another host, the project's deploy credential
 */
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import {
  CompleteWorkspaceRequest,
  EmptyRequest,
  GitTokenRequest,
  type GitTokenResponse,
  WorkspaceFailedRequest,
} from '../_shared/common/contracts/vm-agent.ts';
import { deployCredentialFor } from '../_shared/credentials/deploy.ts';
import { GitHubError } from '../_shared/github/errors.ts';
import { assertTaskRepository, type GitTarget, GitTargetRefusal } from '../_shared/github/task-tokens.ts';
import type { Tx } from '../_shared/db.ts';
import { jsonBody, limitBody } from '../_shared/http.ts';
import { asCaller } from '../_shared/vm-agent/identity.ts';
import { tokenAuth, vmAgentError, type Env, type VmAgentDeps } from './context.ts';

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

  app.post('/git-token', async (c) => {
    const req = await jsonBody(c, GitTokenRequest);
    const [row] = await asCaller(sql, c.get('claims'), (tx) => tx`select public.workspace_git_target() as r`);
    const target = row!.r as GitTarget;
    try {
      assertTaskRepository(target, req);
    } catch (e) {
      if (!(e instanceof GitTargetRefusal)) throw e;
      // Not a linked GitHub repository, but the task's own: its host's deploy credential, if stored.
      if (e.reason === 'not_linked' && target.installationId === null && deps.credentialKey) {
        const projectId = (target as GitTarget & { projectId: string }).projectId;
        const deploy = await deployCredentialFor(sql, deps.credentialKey, projectId, req.host);
        if (deploy) {
          c.header('cache-control', 'no-store');
          const body: GitTokenResponse = {
            token: deploy.token,
            username: deploy.username,
            expiresAt: new Date(deploy.expiresAt).toISOString(),
          };
          return c.json(body);
        }
      }
      throw vmAgentError(
        e.reason === 'not_allowed' ? 403 : 409,
        e.reason === 'not_allowed' ? 'not_allowed' : 'invalid_state',
        e.message,
      );
    }
    if (!deps.github) {
      throw vmAgentError(503, 'github_not_configured', 'GitHub is not configured on this SAM (no GitHub App)');
    }
    try {
      const t = await deps.github.forTask(target.taskId, target.installationId!, target.repositoryId!);
      const body: GitTokenResponse = { token: t.token, expiresAt: new Date(t.expiresAt).toISOString() };
      c.header('cache-control', 'no-store');
      return c.json(body);
    } catch (e) {
      if (!(e instanceof GitHubError)) throw e;
      // GitHub's words (never a token); a refusal for good is a 409, anything that may pass is a 503.
      const status = e.kind === 'permanent' ? 409 : 503;
      if (e.retryAt) c.header('retry-after', String(Math.max(1, Math.ceil((e.retryAt - Date.now()) / 1000))));
      throw vmAgentError(status, 'github_error', e.message);
    }
  });

  return app;
}
