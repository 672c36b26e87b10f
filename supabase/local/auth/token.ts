import type { Handler } from './context.ts';
import { badRequest, optionalString, readJson, sendJson } from './http.ts';
import { exchangeAuthCode } from './pkce.ts';
import { createSession, rotateRefreshToken, sessionJson } from './sessions.ts';
import { findUserByEmail, MIN_PASSWORD_LENGTH, passwordMatches } from './users.ts';

const invalidCredentials = () => badRequest('invalid_credentials', 'Invalid login credentials');

/** `POST /token?grant_type=password|refresh_token|pkce`. */
export const token: Handler = async (req, res, url, auth) => {
  const grant = url.searchParams.get('grant_type');
  const body = await readJson(req);
  if (grant === 'password') return passwordGrant(body, res, auth);
  if (grant === 'refresh_token') return refreshGrant(body, res, auth);
  if (grant === 'pkce') return sendJson(res, 200, await exchangeAuthCode(auth, body));
  throw badRequest('validation_failed', 'unsupported_grant_type');
};

async function passwordGrant(
  body: Record<string, unknown>,
  res: Parameters<Handler>[1],
  auth: Parameters<Handler>[3],
): Promise<void> {
  const email = optionalString(body, 'email');
  const phone = optionalString(body, 'phone');
  const password = optionalString(body, 'password') ?? '';
  if (email && phone) {
    throw badRequest('validation_failed', 'Only an email address or phone number should be provided on login.');
  }
  if (!email && !phone) throw badRequest('validation_failed', 'missing email or phone');
  if (!email) throw invalidCredentials(); // no phone users here

  const session = await auth.sql.begin(async (tx) => {
    const user = await findUserByEmail(tx, email.trim().toLowerCase());
    if (!user) throw invalidCredentials();
    if (user.banned_until && user.banned_until > new Date()) throw badRequest('user_banned', 'User is banned');
    if (!(await passwordMatches(tx, user, password))) throw invalidCredentials();
    if (!user.email_confirmed_at) throw badRequest('email_not_confirmed', 'Email not confirmed');
    const s = await createSession(tx, user, 'password');
    // Like GoTrue, tell the client when the password no longer meets the password rules.
    const weak =
      password.length < MIN_PASSWORD_LENGTH
        ? {
            weak_password: {
              reasons: ['length'],
              message: `Password should be at least ${MIN_PASSWORD_LENGTH} characters.`,
            },
          }
        : {};
    return sessionJson(tx, auth.tokens, s.user, s.sessionId, s.refreshToken, weak);
  });
  sendJson(res, 200, session);
}

async function refreshGrant(
  body: Record<string, unknown>,
  res: Parameters<Handler>[1],
  auth: Parameters<Handler>[3],
): Promise<void> {
  const presented = optionalString(body, 'refresh_token');
  if (!presented) throw badRequest('validation_failed', 'refresh_token required');
  const outcome = await auth.sql.begin(async (tx) => {
    const r = await rotateRefreshToken(tx, auth.tokens, presented);
    if (!r.ok) return r;
    return { ok: true as const, session: await sessionJson(tx, auth.tokens, r.user, r.sessionId, r.refreshToken) };
  });
  if (!outcome.ok) throw outcome.error;
  sendJson(res, 200, outcome.session);
}
