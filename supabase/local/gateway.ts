import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { LocalKeys } from './keys.ts';

/**
 * The API gateway's key translation, as the Supabase CLI's gateway does it:
 * `Authorization` is kept when present and not a `Bearer sb_…`; otherwise the `apikey` becomes the
 * bearer token, with the secret key turned into the service_role JWT and the publishable key into
 * the anon JWT. Returns the Authorization header to forward, or undefined when there is nothing.
 */
export function translateAuthorization(
  headers: IncomingHttpHeaders,
  keys: LocalKeys,
  queryApiKey?: string | null,
): string | undefined {
  const authorization = headers.authorization;
  if (authorization && !authorization.startsWith('Bearer sb_')) return authorization;
  const apikey = (headers.apikey as string | undefined) ?? queryApiKey ?? undefined;
  if (apikey === undefined) return authorization;
  return `Bearer ${apiKeyToJwt(apikey, keys)}`;
}

/** Maps an API key to the JWT the services see; JWTs pass through unchanged. */
export function apiKeyToJwt(apikey: string, keys: LocalKeys): string {
  if (sameKey(apikey, keys.secretKey)) return keys.serviceRoleJwt;
  if (sameKey(apikey, keys.publishableKey)) return keys.anonJwt;
  return apikey;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Whether two keys are equal, in time independent of where they differ (hashed first, so length does not show). */
export function sameKey(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** Whether `apikey` is one of the project's API keys (publishable, secret, legacy anon / service_role JWT). */
export function isProjectApiKey(apikey: string, keys: LocalKeys): boolean {
  // Every key is compared, so the time does not tell which one (or none) matched.
  const matches = [keys.publishableKey, keys.secretKey, keys.anonJwt, keys.serviceRoleJwt].map((k) =>
    sameKey(apikey, k),
  );
  return matches.some(Boolean);
}

/** Services behind the gateway's key check (hosted's `key-auth`); functions keep their own rules. */
const KEYED_PREFIXES = ['/auth/v1', '/rest/v1', '/realtime/v1'];

/**
 * Routes hosted serves without an API key: links opened from e-mails (`verify`), OAuth redirects
 * (`callback`, `authorize`) and the public signing keys.
 */
const OPEN_ROUTES = ['/auth/v1/verify', '/auth/v1/callback', '/auth/v1/authorize', '/auth/v1/.well-known/jwks.json'];

const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

export interface KeyRefusal {
  status: 401;
  body: { message: string; hint: string };
}

/**
 * The gateway's API-key check, as hosted does it: on Auth, REST and Realtime (websocket upgrades
 * included) a request needs the `apikey` header or query parameter, and it must be one of the
 * project's keys; else 401 with hosted's JSON. Returns the refusal, or null to let it through.
 * CORS preflights are answered before this check (they never carry the key).
 */
export function apiKeyRefusal(
  path: string,
  headers: IncomingHttpHeaders,
  queryApiKey: string | null,
  keys: LocalKeys,
): KeyRefusal | null {
  if (!KEYED_PREFIXES.some((p) => under(path, p)) || OPEN_ROUTES.some((p) => under(path, p))) return null;
  const header = headers.apikey;
  const apikey = (Array.isArray(header) ? header[0] : header) || queryApiKey || undefined;
  if (apikey === undefined) {
    return {
      status: 401,
      body: { message: 'No API key found in request', hint: 'No `apikey` request header or url param was found.' },
    };
  }
  if (!isProjectApiKey(apikey, keys)) {
    return {
      status: 401,
      body: { message: 'Invalid API key', hint: 'Double check your Supabase `anon` or `service_role` API key.' },
    };
  }
  return null;
}

/** The bearer token of an Authorization header, if any. */
export function bearer(authorization: string | undefined): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  return m?.[1];
}

export const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PUT, PATCH, DELETE, OPTIONS, HEAD',
  'access-control-allow-headers':
    'authorization, apikey, content-type, content-profile, accept-profile, prefer, range, x-client-info, x-supabase-api-version, x-retry-count, traceparent, tracestate, baggage',
  'access-control-expose-headers': 'content-range, range, x-supabase-api-version',
  'access-control-max-age': '3600',
} as const;
