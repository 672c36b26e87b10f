import type { ServerResponse } from 'node:http';
import type { AuthContext, Handler } from './context.ts';
import { AuthError, badRequest, discardBody, forbidden, optionalString, readJson, sendJson } from './http.ts';
import { OTP_TTL_SECONDS, tokenHash } from './mailer.ts';
import { issueAuthCode } from './pkce.ts';
import { createSession, sessionJson, type AuthMethod } from './sessions.ts';
import { confirmEmail, normaliseEmail, type Db, type UserRow } from './users.ts';

type VerifyType = 'signup' | 'email' | 'email_change';
const TYPES: VerifyType[] = ['signup', 'email', 'email_change'];

const expired = () => forbidden('otp_expired', 'Email link is invalid or has expired');

function verifyType(value: string | undefined | null): VerifyType {
  if (!value || !TYPES.includes(value as VerifyType)) {
    throw badRequest('validation_failed', `Verify requires a verification type (${TYPES.join(', ')})`);
  }
  return value as VerifyType;
}

const isFresh = (sentAt: Date | null) => !!sentAt && Date.now() - sentAt.getTime() < OTP_TTL_SECONDS * 1000;

/**
 * Confirms by token hash and starts a session, as GoTrue does; for a followed link (`viaLink`)
 * of a PKCE sign-up the answer is instead the auth code the client exchanges at /token.
 */
async function confirm(auth: AuthContext, type: VerifyType, hash: string, viaLink = false) {
  return auth.sql.begin(async (tx) => {
    let user: UserRow | undefined;
    let method: AuthMethod;
    if (type === 'email_change') {
      [user] = await tx<UserRow[]>`select * from auth.users where email_change_token_new = ${hash} for update`;
      if (!user || !user.email_change || !isFresh(user.email_change_sent_at)) throw expired();
      user = await applyEmailChange(tx, user);
      method = 'email_change';
    } else {
      [user] = await tx<UserRow[]>`select * from auth.users where confirmation_token = ${hash} for update`;
      if (!user || !isFresh(user.confirmation_sent_at)) throw expired();
      user = await confirmEmail(tx, user.id);
      method = type === 'signup' ? 'email/signup' : 'otp';
    }
    const code = viaLink ? await issueAuthCode(tx, user.id) : undefined;
    if (code) return { code };
    const s = await createSession(tx, user, method);
    return { session: await sessionJson(tx, auth.tokens, s.user, s.sessionId, s.refreshToken) };
  });
}

async function applyEmailChange(tx: Db, user: UserRow): Promise<UserRow> {
  const [row] = await tx<UserRow[]>`
    update auth.users
    set email = email_change, email_change = '', email_change_token_new = '', email_change_sent_at = null,
        email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now()
    where id = ${user.id} returning *`;
  await tx`
    update auth.identities
    set identity_data = identity_data || jsonb_build_object('email', ${row!.email}::text, 'email_verified', true),
        updated_at = now()
    where user_id = ${user.id} and provider = 'email'`;
  return row!;
}

/**
 * `POST /verify` (`verifyOtp`): `{type, token_hash}` or `{type, email, token}` → a session.
 */
export const verifyPost: Handler = async (req, res, _url, auth) => {
  const body = await readJson(req);
  const type = verifyType(optionalString(body, 'type'));
  const hash = optionalString(body, 'token_hash');
  const code = optionalString(body, 'token');
  const email = optionalString(body, 'email');
  let lookup: string;
  if (hash) lookup = hash;
  else if (code && email) lookup = tokenHash(normaliseEmail(email), code.trim());
  else throw badRequest('validation_failed', 'Verify requires either a token_hash, or an email and a token');
  const { session } = await confirm(auth, type, lookup);
  sendJson(res, 200, session);
};

/**
 * `GET /verify?token=…&type=…&redirect_to=…` (the link in the mail): confirms and redirects with
 * `?code=` for a PKCE sign-up, else with the session in the URL fragment, or with `error`, `error_code`, `error_description` when the link
 * is invalid — as GoTrue's implicit flow does.
 */
export const verifyGet: Handler = async (req, res, url, auth) => {
  await discardBody(req);
  const target = redirectTarget(url.searchParams.get('redirect_to'), auth.siteUrl);
  try {
    const type = verifyType(url.searchParams.get('type'));
    const hash = url.searchParams.get('token');
    if (!hash) throw badRequest('validation_failed', 'Verify requires a token');
    const { session, code } = await confirm(auth, type, hash, true);
    if (code || !session) {
      const location = new URL(target);
      location.searchParams.set('code', code!);
      return redirect(res, location.toString());
    }
    const fragment = new URLSearchParams({
      access_token: session.access_token,
      expires_at: String(session.expires_at),
      expires_in: String(session.expires_in),
      refresh_token: session.refresh_token,
      token_type: 'bearer',
      type,
    });
    redirect(res, `${target.split('#')[0]}#${fragment.toString()}`);
  } catch (e) {
    if (!(e instanceof AuthError)) throw e;
    const fragment = new URLSearchParams({
      error: e.status === 403 ? 'access_denied' : 'invalid_request',
      error_code: e.code,
      error_description: e.message,
    });
    redirect(res, `${target.split('#')[0]}#${fragment.toString()}`);
  }
};

/** Where the link lands: `redirect_to` when it is an absolute http(s) URL, else the site URL. */
function redirectTarget(requested: string | null, siteUrl: string): string {
  try {
    const u = new URL(requested ?? '');
    if (u.protocol === 'http:' || u.protocol === 'https:') return u.toString();
  } catch {
    // not a URL: fall back
  }
  return siteUrl;
}

function redirect(res: ServerResponse, location: string) {
  res.writeHead(303, { location, 'x-supabase-api-version': '2024-01-01' });
  res.end();
}
