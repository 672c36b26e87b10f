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
  if (apikey === keys.secretKey) return keys.serviceRoleJwt;
  if (apikey === keys.publishableKey) return keys.anonJwt;
  return apikey;
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
