import { jwtVerify, SignJWT } from 'jose';
import { HttpError } from './http-error.ts';

/**
 * Node, workspace and agent tokens: JWTs signed with SAM's own secret (`SAM_JWT_SECRET`), never
 * Supabase's. The database decides whether one still counts (its `tokens` row by `jti`: kind,
 * expiry, revocation); this module only proves who issued it and that it is well formed.
 */
export type SamTokenKind = 'node' | 'workspace' | 'agent';

export const ROLE_OF_KIND: Record<SamTokenKind, string> = {
  node: 'sam_node',
  workspace: 'sam_workspace',
  agent: 'sam_agent',
};

export interface SamClaims {
  iss: 'sam';
  kind: SamTokenKind;
  role: string;
  jti: string;
  exp: number;
  iat: number;
  node_id?: string;
  workspace_id?: string;
  agent_session_id?: string;
  project_id?: string;
  task_id?: string;
  [claim: string]: unknown;
}

const ISSUER = 'sam';

function key(secret: string): Uint8Array {
  if (secret.length < 32) throw new Error('SAM_JWT_SECRET must be at least 32 characters');
  return new TextEncoder().encode(secret);
}

/** Signs the claims a token-issuing SQL function returned (`jti`, scope ids, `exp`). */
export async function signSamToken(
  secret: string,
  kind: SamTokenKind,
  claims: Record<string, unknown> & { jti: string; exp: number },
): Promise<string> {
  return new SignJWT({ ...claims, kind, role: ROLE_OF_KIND[kind] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(ISSUER)
    .setIssuedAt()
    .setJti(claims.jti)
    .setExpirationTime(claims.exp)
    .sign(key(secret));
}

/**
 * Verifies signature, issuer, expiry and kind; refuses with 401 otherwise. `expiredGraceSeconds`
 * accepts a token whose `exp` passed at most that long ago (only where a route renews it).
 */
export async function verifySamToken(
  secret: string,
  token: string | undefined,
  kind: SamTokenKind,
  expiredGraceSeconds = 0,
): Promise<SamClaims> {
  if (!token) throw new HttpError(401, 'missing_token', 'A bearer token is required');
  try {
    const { payload } = await jwtVerify(token, key(secret), {
      issuer: ISSUER,
      algorithms: ['HS256'],
      ...(expiredGraceSeconds > 0 ? { clockTolerance: expiredGraceSeconds } : {}),
    });
    if (payload.kind !== kind || payload.role !== ROLE_OF_KIND[kind] || typeof payload.jti !== 'string') {
      throw new HttpError(401, 'invalid_token', `This endpoint takes a ${kind} token`);
    }
    return payload as SamClaims;
  } catch (e) {
    if (e instanceof HttpError) throw e;
    const expired = (e as { code?: string }).code === 'ERR_JWT_EXPIRED';
    throw new HttpError(
      401,
      expired ? 'token_expired' : 'invalid_token',
      expired ? 'The token has expired' : 'The token is not valid',
    );
  }
}
