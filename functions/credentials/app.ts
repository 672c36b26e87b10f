/**
 * The `credentials` edge function: where a signed-in user stores secrets SAM needs on their
 * behalf (model keys, cloud tokens, git deploy credentials). Write-only: the secret is encrypted
 * here before it reaches Postgres and is never answered back; the list shows what is set and its
 * last four characters. Bearer = the user's Supabase access token.
 *
 *   GET    /credentials          → { credentials: CredentialSummary[] }
 *   PUT    /credentials          StoreCredentialRequest → CredentialSummary (a cloud token is checked
 *                                 with the cloud first: 422 invalid_credential when it refuses it)
 *   DELETE /credentials/:id      → 204
 *
 * Errors are `{ error: { code, message, details? } }` with the status.
 */
import { Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { z } from 'zod';
import { bearerToken } from '../_shared/common/bearer.ts';
import { StoreCredentialRequest } from '../_shared/common/contracts/credentials.ts';
import { deleteCredential, listCredentials, storeCredential } from '../_shared/credentials/store.ts';
import { verifyCloudCredential } from '../_shared/credentials/verify.ts';
import type { Sql } from '../_shared/db.ts';
import { HttpError } from '../_shared/http-error.ts';
import { jsonBody, jsonNotFound, jsonOnError, limitBody } from '../_shared/http.ts';
import type { CloudFactoryOptions } from '../_shared/providers/registry.ts';
import type { UserClaims } from '../_shared/user-auth.ts';

export interface CredentialsDeps {
  sql: Sql;
  /** The AES-256-GCM key (`SAM_CREDENTIAL_KEY`). */
  key: CryptoKey;
  verifyUser(token: string | undefined): Promise<UserClaims>;
  /** How cloud tokens are checked before they are stored (API roots: tests point them at the fakes). */
  clouds?: CloudFactoryOptions;
}

type Env = { Variables: { user: UserClaims } };

export function createCredentialsApp(deps: CredentialsDeps): Hono<Env> {
  const app = new Hono<Env>().basePath('/credentials');

  // Browsers call this function directly; bearer tokens (never cookies) carry the identity.
  app.use(
    '*',
    cors({
      origin: '*',
      allowHeaders: ['authorization', 'apikey', 'content-type', 'x-client-info'],
      allowMethods: ['GET', 'PUT', 'DELETE', 'OPTIONS'],
      maxAge: 600,
    }),
  );
  app.use('*', limitBody(16 * 1024));
  const auth: MiddlewareHandler<Env> = async (c, next) => {
    c.set('user', await deps.verifyUser(bearerToken(c.req.header('authorization'))));
    await next();
  };
  app.use('*', auth);

  app.get('/', async (c) => c.json({ credentials: await listCredentials(deps.sql, c.get('user')) }));

  app.put('/', async (c) => {
    const req = await jsonBody(c, StoreCredentialRequest);
    await verifyCloudCredential(req, deps.clouds ?? {});
    return c.json(await storeCredential(deps.sql, deps.key, c.get('user'), req));
  });

  app.delete('/:id', async (c) => {
    const id = c.req.param('id');
    if (!z.uuid().safeParse(id).success) throw new HttpError(400, 'invalid_params', 'id is not a uuid');
    await deleteCredential(deps.sql, c.get('user'), id);
    return c.body(null, 204);
  });

  app.notFound(jsonNotFound);
  app.onError(jsonOnError('credentials'));
  return app;
}
