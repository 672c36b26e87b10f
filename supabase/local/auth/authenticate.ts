import type { IncomingMessage } from 'node:http';
import { bearer } from '../gateway.ts';
import { JwtError, verifyJwt, type Claims, type LocalKeys } from '../keys.ts';
import { AuthError, forbidden } from './http.ts';
import { findUserById, isUuid, type Db, type UserRow } from './users.ts';

/** Roles GoTrue treats as admin (its default `GOTRUE_JWT_ADMIN_ROLES`). */
const ADMIN_ROLES = ['service_role', 'supabase_admin'];

/** Verifies the bearer token of a request (ES256 via the JWKS key, HS256 via the legacy secret). */
export async function requestClaims(req: IncomingMessage, keys: LocalKeys): Promise<Claims> {
  const token = bearer(req.headers.authorization);
  if (!token) throw new AuthError(401, 'no_authorization', 'This endpoint requires a valid Bearer token');
  try {
    return await verifyJwt(keys, token);
  } catch (e) {
    if (e instanceof JwtError && e.code === 'expired') {
      throw forbidden(
        'bad_jwt',
        'invalid JWT: unable to parse or verify signature, token has invalid claims: token is expired',
      );
    }
    throw forbidden('bad_jwt', 'invalid JWT: unable to parse or verify signature, token signature is invalid');
  }
}

export interface Caller {
  claims: Claims;
  user: UserRow;
  sessionId: string | undefined;
}

/** The signed-in user behind a request: a valid token whose user and session still exist. */
export async function requireUser(req: IncomingMessage, keys: LocalKeys, db: Db): Promise<Caller> {
  const claims = await requestClaims(req, keys);
  if (typeof claims.sub !== 'string' || claims.sub === '') {
    throw forbidden('bad_jwt', 'invalid claim: missing sub claim');
  }
  const user = await findUserById(db, claims.sub);
  if (!user) throw forbidden('user_not_found', 'User from sub claim in JWT does not exist');
  const sessionId = typeof claims.session_id === 'string' ? claims.session_id : undefined;
  if (sessionId !== undefined) {
    if (!isUuid(sessionId)) throw forbidden('bad_jwt', 'invalid claim: session_id claim must be a UUID');
    const [session] = await db`select 1 from auth.sessions where id = ${sessionId}::uuid and user_id = ${user.id}`;
    if (!session) throw forbidden('session_not_found', 'Session from session_id claim in JWT does not exist');
  }
  return { claims, user, sessionId };
}

/** Admin endpoints: only service_role (or supabase_admin) tokens; anything else is 403 `not_admin`. */
export async function requireAdmin(req: IncomingMessage, keys: LocalKeys): Promise<Claims> {
  const claims = await requestClaims(req, keys);
  if (typeof claims.role !== 'string' || !ADMIN_ROLES.includes(claims.role)) {
    throw forbidden('not_admin', 'User not allowed');
  }
  return claims;
}
