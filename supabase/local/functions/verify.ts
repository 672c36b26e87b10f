import type { IncomingHttpHeaders } from 'node:http';
import { bearer, sameKey } from '../gateway.ts';
import { verifyJwt, type LocalKeys } from '../keys.ts';

export type VerifyResult = { ok: true } | { ok: false; body: { msg: string } };

const INVALID: VerifyResult = { ok: false, body: { msg: 'Invalid JWT' } };
const MISSING: VerifyResult = { ok: false, body: { msg: 'Error: Missing authorization header' } };

/**
 * The platform's `verify_jwt` check in front of a function: a valid JWT (ES256
 * signing key or legacy HS256) or a publishable/secret key, on `Authorization` or `apikey`. A
 * bearer token present is the one judged (an invalid one is not rescued by a good `apikey`);
 * `apikey` counts when there is no Authorization header. OPTIONS requests are the caller's to skip.
 */
export async function verifyFunctionRequest(headers: IncomingHttpHeaders, keys: LocalKeys): Promise<VerifyResult> {
  const judge = async (token: string): Promise<VerifyResult> => {
    if (token.startsWith('sb_')) {
      const known = [sameKey(token, keys.publishableKey), sameKey(token, keys.secretKey)];
      return known.some(Boolean) ? { ok: true } : INVALID;
    }
    try {
      await verifyJwt(keys, token);
      return { ok: true };
    } catch {
      return INVALID;
    }
  };
  const authorization = headers.authorization;
  if (authorization) {
    const token = bearer(authorization);
    return token ? judge(token.trim()) : INVALID;
  }
  const apikey = headers.apikey;
  if (typeof apikey === 'string' && apikey !== '') return judge(apikey);
  return MISSING;
}
