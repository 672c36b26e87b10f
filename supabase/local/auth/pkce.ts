import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { AuthContext } from './context.ts';
import { AuthError, badRequest, forbidden, optionalString } from './http.ts';
import { createSession, sessionJson, type AuthMethod } from './sessions.ts';
import type { Db, UserRow } from './users.ts';

/** How long an issued auth code may be exchanged (GoTrue: 5 minutes). */
const AUTH_CODE_TTL_SECONDS = 300;

export interface CodeChallenge {
  challenge: string;
  method: 's256' | 'plain';
}

/** The PKCE challenge of a request body, if the client uses the PKCE flow. */
export function codeChallengeOf(body: Record<string, unknown>): CodeChallenge | undefined {
  const challenge = optionalString(body, 'code_challenge');
  const method = optionalString(body, 'code_challenge_method')?.toLowerCase();
  if (!challenge && !method) return undefined;
  if (!challenge || (method !== 's256' && method !== 'plain')) {
    throw badRequest(
      'validation_failed',
      'PKCE flow requires code_challenge and code_challenge_method (s256 or plain)',
    );
  }
  return { challenge, method };
}

/** Remembers a challenge for the user; the confirmation link then ends in `?code=` instead of tokens. */
export async function createFlowState(db: Db, userId: string, c: CodeChallenge, method: AuthMethod) {
  await db`
    insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
      created_at, updated_at, authentication_method)
    values (${randomUUID()}, ${userId}, ${randomUUID()}, ${c.method}, ${c.challenge}, 'email', now(), now(), ${method})`;
}

/** After a confirmation: the auth code of the user's pending PKCE flow, if there is one. */
export async function issueAuthCode(db: Db, userId: string): Promise<string | undefined> {
  const [flow] = await db<{ id: string; auth_code: string }[]>`
    select id, auth_code from auth.flow_state
    where user_id = ${userId} and auth_code_issued_at is null
    order by created_at desc limit 1`;
  if (!flow) return undefined;
  await db`update auth.flow_state set auth_code_issued_at = now(), updated_at = now() where id = ${flow.id}`;
  return flow.auth_code;
}

function verifierMatches(verifier: string, challenge: string, method: string): boolean {
  const expected = method === 'plain' ? verifier : createHash('sha256').update(verifier).digest('base64url');
  const a = Buffer.from(expected);
  const b = Buffer.from(challenge);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** `POST /token?grant_type=pkce` `{auth_code, code_verifier}` → a session; the code works once. */
export async function exchangeAuthCode(auth: AuthContext, body: Record<string, unknown>) {
  const code = optionalString(body, 'auth_code');
  const verifier = optionalString(body, 'code_verifier');
  if (!code || !verifier)
    throw badRequest('validation_failed', 'invalid request: both auth code and code verifier should be non-empty');
  return auth.sql.begin(async (tx) => {
    const [flow] = await tx<
      {
        id: string;
        user_id: string;
        code_challenge: string;
        code_challenge_method: string;
        authentication_method: AuthMethod;
        provider_access_token: string | null;
        provider_refresh_token: string | null;
        fresh: boolean;
      }[]
    >`
      select *, auth_code_issued_at > now() - make_interval(secs => ${AUTH_CODE_TTL_SECONDS}) as fresh
      from auth.flow_state where auth_code = ${code} and auth_code_issued_at is not null for update`;
    if (!flow) throw new AuthError(404, 'flow_state_not_found', 'invalid flow state, no valid flow state found');
    if (!flow.fresh) throw new AuthError(403, 'flow_state_expired', 'invalid flow state, flow state has expired');
    if (!verifierMatches(verifier, flow.code_challenge, flow.code_challenge_method)) {
      throw forbidden('bad_code_verifier', 'code challenge does not match previously saved code verifier');
    }
    await tx`delete from auth.flow_state where id = ${flow.id}`;
    const [user] = await tx<UserRow[]>`select * from auth.users where id = ${flow.user_id}`;
    if (!user) throw new AuthError(404, 'user_not_found', 'User not found');
    const s = await createSession(tx, user, flow.authentication_method);
    // An OAuth sign-in hands the provider's tokens over once, here (GoTrue does not keep them).
    const provider = {
      ...(flow.provider_access_token ? { provider_token: flow.provider_access_token } : {}),
      ...(flow.provider_refresh_token ? { provider_refresh_token: flow.provider_refresh_token } : {}),
    };
    return sessionJson(tx, auth.tokens, s.user, s.sessionId, s.refreshToken, provider);
  });
}
