import type { IncomingMessage } from 'node:http';
import { apiKeyToJwt } from '../gateway.ts';
import { JwtError, verifyJwt, type Claims, type LocalKeys } from '../keys.ts';

/** Verified claims (Realtime refuses a token without `role` or `exp`). */
export type VerifiedClaims = Claims & { role: string; exp: number };

export type TokenResult = { ok: true; claims: VerifiedClaims; token: string } | { ok: false; reason: string };

function unverifiedExp(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Verifies a token as Realtime does for sockets and joins; failure reasons use Realtime's wording
 * (without the `InvalidJWTToken:` code, which the caller adds where Realtime does).
 */
export async function verifyToken(keys: LocalKeys, token: string | null | undefined): Promise<TokenResult> {
  try {
    const claims = (await verifyJwt(keys, token)) as VerifiedClaims;
    return { ok: true, claims, token: token! };
  } catch (e) {
    if (e instanceof JwtError) {
      if (e.code === 'expired') {
        const exp = unverifiedExp(token ?? '');
        const ago = exp === undefined ? 0 : Math.max(0, Math.floor(Date.now() / 1000) - exp);
        return { ok: false, reason: `Token has expired ${ago} seconds ago` };
      }
      if (e.code === 'missing') return { ok: false, reason: 'Missing JWT' };
      if (e.message.includes('role and exp'))
        return { ok: false, reason: 'Fields `role` and `exp` are required in JWT' };
      return { ok: false, reason: 'Invalid JWT' };
    }
    return { ok: false, reason: 'Invalid JWT' };
  }
}

/**
 * The connection-level token of a websocket upgrade: the `x-api-key` header, else the `apikey`
 * query parameter, with `sb_…` keys replaced by their role JWTs as the gateway does (gateway.ts).
 */
export function connectionToken(req: IncomingMessage, keys: LocalKeys): string | null {
  const header = req.headers['x-api-key'];
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams.get('apikey');
  const raw = (Array.isArray(header) ? header[0] : header) ?? query;
  return raw ? apiKeyToJwt(raw, keys) : null;
}

/** `x-*` request headers, passed to policies as `request.headers` (as Realtime does). */
export function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (k.startsWith('x-') && k !== 'x-api-key' && v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}
