import { requireUser } from './authenticate.ts';
import type { Handler } from './context.ts';
import {
  badRequest,
  discardBody,
  optionalObject,
  optionalString,
  readJson,
  sendJson,
  sendNoContent,
  unprocessable,
} from './http.ts';
import type { Mail } from './mailer.ts';
import { logout as endSessions, type LogoutScope } from './sessions.ts';
import {
  findUserByEmail,
  mergeMetadata,
  normaliseEmail,
  passwordMatches,
  setPassword,
  userJson,
  weakPasswordError,
  type UserRow,
} from './users.ts';

/** `GET /user`: the signed-in user (403 `session_not_found` once the session is gone). */
export const getUser: Handler = async (req, res, _url, auth) => {
  await discardBody(req);
  const { user } = await requireUser(req, auth.tokens.keys, auth.sql);
  sendJson(res, 200, await userJson(auth.sql, user));
};

/**
 * `PUT /user`: metadata (`data`, merged key by key), password, email. With confirmation on, an
 * email change waits for the new address to be confirmed through `/verify` (type email_change).
 */
export const updateUser: Handler = async (req, res, url, auth) => {
  const body = await readJson(req);
  const { user } = await requireUser(req, auth.tokens.keys, auth.sql);
  const data = optionalObject(body, 'data');
  const password = optionalString(body, 'password');
  const email = optionalString(body, 'email');
  if (optionalString(body, 'phone')) throw badRequest('phone_provider_disabled', 'Phone logins are disabled');
  const redirectTo = url.searchParams.get('redirect_to') ?? undefined;

  let mail: Mail | undefined;
  const updated = await auth.sql.begin(async (tx) => {
    if (data) {
      const merged = mergeMetadata(user.raw_user_meta_data, data);
      await tx`update auth.users set raw_user_meta_data = ${tx.json(merged as never)}, updated_at = now()
               where id = ${user.id}`;
    }
    if (password !== undefined) {
      const weak = weakPasswordError(password);
      if (weak) throw weak;
      if (await passwordMatches(tx, user, password)) {
        throw unprocessable('same_password', 'New password should be different from the old password.');
      }
      await setPassword(tx, user.id, password);
    }
    if (email !== undefined) {
      const address = normaliseEmail(email);
      if (address !== user.email) {
        const other = await findUserByEmail(tx, address);
        if (other) throw unprocessable('email_exists', 'A user with this email address has already been registered');
        if (auth.emailConfirmation) {
          mail = await auth.mailbox.emailChange(tx, user.id, address, redirectTo);
        } else {
          await tx`update auth.users set email = ${address}, updated_at = now() where id = ${user.id}`;
          await tx`update auth.identities
                   set identity_data = identity_data || jsonb_build_object('email', ${address}::text), updated_at = now()
                   where user_id = ${user.id} and provider = 'email'`;
        }
      }
    }
    const [row] = await tx<UserRow[]>`select * from auth.users where id = ${user.id}`;
    return userJson(tx, row!);
  });
  if (mail) auth.mailbox.deliver(mail);
  sendJson(res, 200, updated);
};

const SCOPES: LogoutScope[] = ['global', 'local', 'others'];

/** `POST /logout?scope=global|local|others` → 204. */
export const logout: Handler = async (req, res, url, auth) => {
  await discardBody(req);
  const scope = (url.searchParams.get('scope') ?? 'global') as LogoutScope;
  if (!SCOPES.includes(scope)) {
    throw badRequest('validation_failed', `Unsupported logout scope "${scope}"`);
  }
  const { user, sessionId } = await requireUser(req, auth.tokens.keys, auth.sql);
  await endSessions(auth.sql, user.id, sessionId, scope);
  sendNoContent(res);
};
