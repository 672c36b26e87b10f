import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  randomUUID,
  type JsonWebKey,
} from 'node:crypto';
import { importJWK, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { ensureSecret } from './secrets.ts';

/**
 * The key material of the local stack, generated once per checkout (`.sam/secrets.json`):
 * - an ES256 signing key with a `kid` for user access tokens (published at the JWKS endpoint),
 * - a legacy HS256 secret that signs only the long-lived anon / service_role API-key JWTs,
 * - new-style `sb_publishable_…` / `sb_secret_…` keys, which are not JWTs (gateway.ts maps them to the two).
 */
export interface LocalKeys {
  kid: string;
  privateJwk: JsonWebKey;
  publicJwk: JsonWebKey & { kid: string; alg: 'ES256'; use: 'sig' };
  legacySecret: string;
  publishableKey: string;
  secretKey: string;
  anonJwt: string;
  serviceRoleJwt: string;
  issuer: string;
}

export type Claims = JWTPayload & { role?: string; [key: string]: unknown };

export class JwtError extends Error {
  constructor(
    readonly code: 'missing' | 'invalid' | 'expired',
    message: string,
  ) {
    super(message);
  }
}

function makeEs256(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return JSON.stringify(privateKey.export({ format: 'jwk' }));
}

/** Loads (creating on first use) the keys; `url` is the gateway's public URL. */
export async function loadKeys(url: string): Promise<LocalKeys> {
  const privateJwk = JSON.parse(ensureSecret('auth.es256.jwk', makeEs256)) as JsonWebKey;
  const kid = ensureSecret('auth.es256.kid', () => randomUUID());
  const publicJwk = {
    ...createPublicKey(createPrivateKey({ key: privateJwk, format: 'jwk' })).export({ format: 'jwk' }),
    kid,
    alg: 'ES256' as const,
    use: 'sig' as const,
    key_ops: ['verify'],
  };
  const legacySecret = ensureSecret('auth.legacy.hs256', () => randomBytes(40).toString('base64url'));
  const publishableKey = ensureSecret(
    'api.publishable',
    () => `sb_publishable_${randomBytes(16).toString('base64url')}`,
  );
  const secretKey = ensureSecret('api.secret', () => `sb_secret_${randomBytes(16).toString('base64url')}`);
  const hs = new TextEncoder().encode(legacySecret);
  const apiKeyJwt = (role: string) =>
    new SignJWT({ role, iss: 'supabase-demo' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt(1_700_000_000)
      .setExpirationTime(1_983_812_996)
      .sign(hs);
  return {
    kid,
    privateJwk,
    publicJwk,
    legacySecret,
    publishableKey,
    secretKey,
    anonJwt: await apiKeyJwt('anon'),
    serviceRoleJwt: await apiKeyJwt('service_role'),
    issuer: `${url.replace(/\/$/, '')}/auth/v1`,
  };
}

/** Signs `claims` with the ES256 key (header carries `kid`), as Supabase Auth does. */
export async function signAccessToken(keys: LocalKeys, claims: Claims, expiresInSeconds: number): Promise<string> {
  const key = await importJWK(keys.privateJwk as Parameters<typeof importJWK>[0], 'ES256');
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: keys.kid })
    .setIssuedAt(now)
    .setExpirationTime(now + expiresInSeconds)
    .sign(key);
}

/**
 * Verifies a JWT the way the platform's services do: ES256 against the JWKS key, HS256 against the
 * legacy secret; `role` and `exp` are required.
 */
export async function verifyJwt(keys: LocalKeys, token: string | null | undefined): Promise<Claims> {
  if (!token) throw new JwtError('missing', 'Missing authorization header');
  try {
    const header = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as { alg?: string };
    const key =
      header.alg === 'ES256'
        ? await importJWK(keys.publicJwk as Parameters<typeof importJWK>[0], 'ES256')
        : new TextEncoder().encode(keys.legacySecret);
    const { payload } = await jwtVerify(token, key, { algorithms: ['ES256', 'HS256'] });
    if (typeof payload.role !== 'string' || typeof payload.exp !== 'number') {
      throw new JwtError('invalid', 'Token must carry role and exp claims');
    }
    return payload as Claims;
  } catch (e) {
    if (e instanceof JwtError) throw e;
    const code = (e as { code?: string }).code;
    if (code === 'ERR_JWT_EXPIRED') throw new JwtError('expired', 'Token has expired');
    throw new JwtError('invalid', 'Invalid JWT');
  }
}
