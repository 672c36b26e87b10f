/**
 * The `github` edge function: a signed-in user links the operator's GitHub App installations to
 * their account (after GitHub proves the installation is theirs) and picks repositories for their
 * projects. Bearer = the user's Supabase access token. Contract:
 * functions/_shared/common/contracts/github.ts; the proofs: functions/_shared/github/linking.ts.
 *
 * Errors are `{ error: { code, message, details? } }` with the status; without a configured App
 * every route answers 503 `github_not_configured`.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { z } from 'zod';
import { bearerToken } from '../_shared/common/bearer.ts';
import { AttachRequest, LinkRequest, RepositoryPageQuery } from '../_shared/common/contracts/github.ts';
import type { Sql } from '../_shared/db.ts';
import type { GitHubApp } from '../_shared/github/app.ts';
import type { GitHubConfig } from '../_shared/github/config.ts';
import {
  attachRepository,
  linkInstallation,
  listLinkedInstallations,
  repositoryPage,
  unlinkInstallation,
} from '../_shared/github/linking.ts';
import { HttpError } from '../_shared/http-error.ts';
import { jsonBody, jsonNotFound, jsonOnError, limitBody } from '../_shared/http.ts';
import type { UserClaims } from '../_shared/user-auth.ts';

export interface GitHubDeps {
  sql: Sql;
  /** null: the operator has not configured a GitHub App. */
  github: { config: GitHubConfig; app: GitHubApp } | null;
  verifyUser(token: string | undefined): Promise<UserClaims>;
  /** For the OAuth code exchange (tests point it at a fake). */
  fetch?: typeof fetch;
}

type Env = { Variables: { user: UserClaims } };

const installationParam = (raw: string) => {
  const parsed = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).safeParse(raw);
  if (!parsed.success) throw new HttpError(400, 'invalid_params', 'installationId is not a GitHub installation id');
  return parsed.data;
};

export function createGitHubApp(deps: GitHubDeps): Hono<Env> {
  const app = new Hono<Env>().basePath('/github');
  app.use(
    '*',
    cors({
      origin: '*',
      allowHeaders: ['authorization', 'apikey', 'content-type', 'x-client-info'],
      allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
      maxAge: 600,
    }),
  );
  app.use('*', limitBody(16 * 1024));
  const auth: MiddlewareHandler<Env> = async (c, next) => {
    c.set('user', await deps.verifyUser(bearerToken(c.req.header('authorization'))));
    await next();
  };
  app.use('*', auth);
  const gh = () => {
    if (!deps.github) throw new HttpError(503, 'github_not_configured', 'GitHub is not configured on this SAM');
    return deps.github;
  };

  app.get('/install-url', (c) => {
    const { config } = gh();
    return c.json({ url: `${config.webUrl}/apps/${encodeURIComponent(config.slug)}/installations/new` });
  });

  app.post('/installations', async (c) => {
    const { config, app: ghApp } = gh();
    const req = await jsonBody(c, LinkRequest);
    return c.json(await linkInstallation(deps.sql, ghApp, config, c.get('user'), req, deps.fetch), 201);
  });

  app.get('/installations', async (c) => {
    gh();
    return c.json({ installations: await listLinkedInstallations(deps.sql, c.get('user')) });
  });

  app.delete('/installations/:installationId', async (c) => {
    gh();
    await unlinkInstallation(deps.sql, c.get('user'), installationParam(c.req.param('installationId')));
    return c.body(null, 204);
  });

  app.get('/installations/:installationId/repositories', async (c) => {
    const { app: ghApp } = gh();
    const q = RepositoryPageQuery.parse(c.req.query());
    const id = installationParam(c.req.param('installationId'));
    return c.json(await repositoryPage(deps.sql, ghApp, c.get('user'), id, q.page, q.perPage));
  });

  app.put('/projects/:projectId/repository', async (c) => {
    const { app: ghApp } = gh();
    const projectId = c.req.param('projectId');
    if (!z.uuid().safeParse(projectId).success) throw new HttpError(400, 'invalid_params', 'projectId is not a uuid');
    const req = await jsonBody(c, AttachRequest);
    return c.json(
      await attachRepository(deps.sql, ghApp, c.get('user'), projectId, req.installationId, req.repositoryId),
    );
  });

  app.notFound(jsonNotFound);
  app.onError(jsonOnError('github'));
  return app;
}
