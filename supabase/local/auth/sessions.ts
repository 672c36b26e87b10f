import { randomBytes, randomUUID } from 'node:crypto';
import { signAccessToken, type LocalKeys } from '../keys.ts';
import { badRequest } from './http.ts';
import { userJson, type Db, type UserRow } from './users.ts';

/** What sessions need from the Auth service's configuration. */
export interface TokenConfig {
  keys: LocalKeys;
  /** Access token lifetime in seconds. */
  jwtExpiry: number;
  /** Seconds during which a just-rotated refresh token may be presented again (hosted: 10). */
  refreshTokenReuseInterval: number;
}

/** GoTrue's authentication methods, as they appear in the `amr` claim. */
export type AuthMethod = 'password' | 'otp' | 'email/signup' | 'email_change' | 'oauth';

interface RefreshTokenRow {
  id: string;
  token: string;
  user_id: string;
  revoked: boolean;
  created_at: Date;
  updated_at: Date;
  parent: string | null;
  session_id: string;
}

const newRefreshToken = () => randomBytes(16).toString('base64url');

/** Starts a session for `user` with its first refresh token; returns the session id and token. */
export async function createSession(db: Db, user: UserRow, method: AuthMethod) {
  const sessionId = randomUUID();
  await db`
    insert into auth.sessions (id, user_id, created_at, updated_at, aal)
    values (${sessionId}, ${user.id}, now(), now(), 'aal1')`;
  await db`
    insert into auth.mfa_amr_claims (id, session_id, created_at, updated_at, authentication_method)
    values (${randomUUID()}, ${sessionId}, now(), now(), ${method})`;
  const token = newRefreshToken();
  await db`
    insert into auth.refresh_tokens (token, user_id, revoked, created_at, updated_at, parent, session_id)
    values (${token}, ${user.id}, false, now(), now(), null, ${sessionId})`;
  await db`update auth.users set last_sign_in_at = now(), updated_at = now() where id = ${user.id}`;
  await db`update auth.identities set last_sign_in_at = now() where user_id = ${user.id}`;
  const [fresh] = await db<UserRow[]>`select * from auth.users where id = ${user.id}`;
  return { sessionId, refreshToken: token, user: fresh! };
}

/** Signs an access token with exactly the claims GoTrue puts in one, no more and no fewer. */
export async function accessToken(db: Db, cfg: TokenConfig, user: UserRow, sessionId: string) {
  const [session] = await db<{ aal: string | null }[]>`select aal from auth.sessions where id = ${sessionId}`;
  const amr = await db<{ method: string; timestamp: number }[]>`
    select authentication_method as method, extract(epoch from created_at)::bigint::int as timestamp
    from auth.mfa_amr_claims where session_id = ${sessionId} order by created_at`;
  const claims = {
    iss: cfg.keys.issuer,
    sub: user.id,
    aud: user.aud ?? 'authenticated',
    email: user.email ?? '',
    phone: user.phone ?? '',
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    role: user.role ?? 'authenticated',
    aal: session?.aal ?? 'aal1',
    amr: amr.map((a) => ({ method: a.method, timestamp: a.timestamp })),
    session_id: sessionId,
    is_anonymous: user.is_anonymous,
  };
  const token = await signAccessToken(cfg.keys, claims, cfg.jwtExpiry);
  const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
  return { token, expiresAt: payload.exp };
}

/** GoTrue's AccessTokenResponse: what auth-js stores as the session. */
export async function sessionJson(
  db: Db,
  cfg: TokenConfig,
  user: UserRow,
  sessionId: string,
  refreshToken: string,
  extra: Record<string, unknown> = {},
) {
  const { token, expiresAt } = await accessToken(db, cfg, user, sessionId);
  return {
    access_token: token,
    token_type: 'bearer',
    expires_in: cfg.jwtExpiry,
    expires_at: expiresAt,
    refresh_token: refreshToken,
    user: await userJson(db, user),
    ...extra,
  };
}

export type RefreshOutcome =
  | { ok: true; user: UserRow; sessionId: string; refreshToken: string }
  | { ok: false; error: ReturnType<typeof badRequest> };

/**
 * Rotates a refresh token (call inside a transaction). A revoked token presented again within the
 * reuse interval, while its child is still the session's active token, yields that child (a client
 * that lost the answer of its last refresh); any other reuse revokes every token of the session
 * and answers `refresh_token_already_used`. Failures are returned, not thrown, so the revocation
 * commits.
 */
export async function rotateRefreshToken(db: Db, cfg: TokenConfig, presented: string): Promise<RefreshOutcome> {
  const [row] = await db<RefreshTokenRow[]>`
    select * from auth.refresh_tokens where token = ${presented} for update`;
  if (!row || !row.session_id) {
    return {
      ok: false,
      error: badRequest('refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found'),
    };
  }
  const [user] = await db<UserRow[]>`select * from auth.users where id = ${row.user_id}::uuid`;
  if (!user) return { ok: false, error: badRequest('user_not_found', 'User not found') };
  if (user.banned_until && user.banned_until > new Date()) {
    return { ok: false, error: badRequest('user_banned', 'User is banned') };
  }
  if (row.revoked) {
    const [child] = await db<RefreshTokenRow[]>`
      select * from auth.refresh_tokens
      where session_id = ${row.session_id} and parent = ${row.token} and not revoked
      order by id desc limit 1`;
    const fresh = Date.now() - row.updated_at.getTime() < cfg.refreshTokenReuseInterval * 1000;
    if (child && fresh) return { ok: true, user, sessionId: row.session_id, refreshToken: child.token };
    await db`
      update auth.refresh_tokens set revoked = true, updated_at = now()
      where session_id = ${row.session_id} and not revoked`;
    return { ok: false, error: badRequest('refresh_token_already_used', 'Invalid Refresh Token: Already Used') };
  }
  await db`update auth.refresh_tokens set revoked = true, updated_at = now() where id = ${row.id}`;
  const token = newRefreshToken();
  await db`
    insert into auth.refresh_tokens (token, user_id, revoked, created_at, updated_at, parent, session_id)
    values (${token}, ${row.user_id}, false, now(), now(), ${row.token}, ${row.session_id})`;
  await db`update auth.sessions set refreshed_at = now(), updated_at = now() where id = ${row.session_id}`;
  return { ok: true, user, sessionId: row.session_id, refreshToken: token };
}

export type LogoutScope = 'global' | 'local' | 'others';

/** Ends sessions of the user: all (global, the default), this one (local), or all but this one (others). */
export async function logout(db: Db, userId: string, sessionId: string | undefined, scope: LogoutScope) {
  if (scope === 'local') {
    if (sessionId) await db`delete from auth.sessions where id = ${sessionId}`;
  } else if (scope === 'others') {
    await db`delete from auth.sessions where user_id = ${userId} and id is distinct from ${sessionId ?? null}::uuid`;
  } else {
    await db`delete from auth.sessions where user_id = ${userId}`;
  }
}
