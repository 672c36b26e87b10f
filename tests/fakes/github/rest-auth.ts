/**
 * Who is calling the fake's REST API: the App (a JWT verified with the App's public key and
 * GitHub's claim rules), an installation (a live installation token), a user (a user access
 * token), nobody, or an invalid credential with GitHub's 401 text.
 */
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose';
import type { FakeGitHub, FakeToken, FakeUser } from './server.ts';

export type Credential =
  | { kind: 'none' }
  | { kind: 'app' }
  | { kind: 'installation'; token: FakeToken }
  | { kind: 'user'; user: FakeUser }
  | { kind: 'invalid'; message: string };

export const BAD_CREDENTIALS = 'Bad credentials';
export const JWT_UNDECODABLE = 'A JSON web token could not be decoded';
/** GitHub's texts for JWT claim failures (field observations: exp too far; the rest likewise). */
export const JWT_EXP_TOO_FAR = "'Expiration time' claim ('exp') is too far in the future";
export const JWT_EXP_PAST =
  "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
export const JWT_IAT_INVALID =
  "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";

async function verifyAppJwt(fake: FakeGitHub, jwt: string): Promise<Credential> {
  try {
    if (decodeProtectedHeader(jwt).alg !== 'RS256') return { kind: 'invalid', message: JWT_UNDECODABLE };
    await compactVerify(jwt, fake.app.publicKey);
  } catch {
    return { kind: 'invalid', message: JWT_UNDECODABLE };
  }
  const claims = decodeJwt(jwt);
  const now = Math.floor(fake.now() / 1000);
  if (typeof claims.exp !== 'number' || claims.exp <= now) return { kind: 'invalid', message: JWT_EXP_PAST };
  if (claims.exp - now > 600) return { kind: 'invalid', message: JWT_EXP_TOO_FAR };
  if (typeof claims.iat !== 'number' || !Number.isInteger(claims.iat) || claims.iat > now + 60) {
    return { kind: 'invalid', message: JWT_IAT_INVALID };
  }
  // An unknown issuer's text is not documented; GitHub cannot find the key, so "could not be decoded".
  if (
    claims.iss !== String(fake.app.id) &&
    claims.iss !== fake.app.clientId &&
    claims.iss !== (fake.app.id as unknown)
  ) {
    return { kind: 'invalid', message: JWT_UNDECODABLE };
  }
  return { kind: 'app' };
}

export async function authenticate(fake: FakeGitHub, header: string | undefined): Promise<Credential> {
  if (!header) return { kind: 'none' };
  const m = /^(?:Bearer|token)\s+(\S+)$/i.exec(header);
  if (!m) return { kind: 'invalid', message: BAD_CREDENTIALS };
  const secret = m[1]!;
  if (secret.split('.').length === 3) return verifyAppJwt(fake, secret);
  const token = fake.liveToken(secret);
  if (token) return { kind: 'installation', token };
  const user = fake.users.get(secret);
  if (user) return { kind: 'user', user };
  return { kind: 'invalid', message: BAD_CREDENTIALS };
}
