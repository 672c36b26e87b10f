/**
 * Verifies a Supabase Auth access token inside a function, the way `auth.getClaims()` does:
 * asymmetric tokens (ES256/RS256 with a `kid`) against the project's JWKS (`SUPABASE_JWKS`, which
 * the platform sets), anything else by asking Auth itself (`GET /auth/v1/user`). Only a signed-in
 * user (`role` authenticated, a `sub`) passes.
 */
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { HttpError } from './http-error.ts';

export interface UserClaims {
  sub: string;
  role: 'authenticated';
  email?: string;
  [key: string]: unknown;
}

export interface UserAuthConfig {
  /** `SUPABASE_JWKS`: `{"keys":[…]}`. */
  jwks: string | undefined;
  /** `SUPABASE_URL`, for the fallback to Auth. */
  supabaseUrl: string;
  /** A key the gateway accepts (`SUPABASE_ANON_KEY` or a publishable key), for the fallback. */
  apiKey: string;
  fetch?: typeof fetch;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const refused = (message = 'Sign in first') => new HttpError(401, 'invalid_token', message);

function asUser(payload: Record<string, unknown>): UserClaims {
  if (payload.role !== 'authenticated' || typeof payload.sub !== 'string' || !UUID.test(payload.sub)) {
    throw refused('The token is not a signed-in user');
  }
  return payload as UserClaims;
}

export function userVerifier(config: UserAuthConfig): (token: string | undefined) => Promise<UserClaims> {
  let keySet: JWTVerifyGetKey | null = null;
  if (config.jwks) {
    try {
      keySet = createLocalJWKSet(JSON.parse(config.jwks));
    } catch {
      keySet = null;
    }
  }
  const doFetch = config.fetch ?? fetch;

  return async (token) => {
    if (!token) throw refused();
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw refused('The token is not a JWT');
    }
    if (keySet && header.kid && header.alg !== 'HS256') {
      try {
        const { payload } = await jwtVerify(token, keySet, { audience: 'authenticated' });
        return asUser(payload as Record<string, unknown>);
      } catch (e) {
        if (e instanceof HttpError) throw e;
        throw refused('The token is not valid or has expired');
      }
    }
    // HS256 (legacy secret) tokens are checked by Auth, which knows the secret.
    const res = await doFetch(`${config.supabaseUrl}/auth/v1/user`, {
      headers: { authorization: `Bearer ${token}`, apikey: config.apiKey },
    });
    if (!res.ok) throw refused('The token is not valid or has expired');
    const user = (await res.json()) as { id?: string; email?: string };
    return asUser({ sub: user.id, role: 'authenticated', email: user.email });
  };
}
