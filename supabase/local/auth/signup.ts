import type { Handler } from './context.ts';
import { badRequest, optionalObject, optionalString, readJson, sendJson, unprocessable } from './http.ts';
import type { Mail } from './mailer.ts';
import { codeChallengeOf, createFlowState } from './pkce.ts';
import { createSession, sessionJson } from './sessions.ts';
import {
  findUserByEmail,
  insertUser,
  normaliseEmail,
  obfuscatedUserJson,
  userJson,
  weakPasswordError,
} from './users.ts';

const isUniqueViolation = (e: unknown) => (e as { code?: string }).code === '23505';

/**
 * `POST /signup`. With email confirmation on (hosted default) the answer is the bare user and a
 * confirmation mail goes to the mailbox; an address that is already confirmed gets a fake user
 * (no identities) so the answer does not reveal it. With confirmation off the answer is a session,
 * and an existing address is 422 `user_already_exists`.
 */
export const signup: Handler = async (req, res, url, auth) => {
  const body = await readJson(req);
  const email = optionalString(body, 'email');
  const phone = optionalString(body, 'phone');
  const password = optionalString(body, 'password');
  const data = optionalObject(body, 'data') ?? {};
  const redirectTo = url.searchParams.get('redirect_to') ?? undefined;
  const pkce = codeChallengeOf(body);

  if (!email && !phone && !password) {
    throw unprocessable('anonymous_provider_disabled', 'Anonymous sign-ins are disabled');
  }
  if (phone && !email) throw badRequest('phone_provider_disabled', 'Phone signups are disabled');
  if (!email) throw badRequest('validation_failed', 'To signup, please provide your email');
  if (!password) throw unprocessable('validation_failed', 'Signup requires a valid password');
  const address = normaliseEmail(email);
  const weak = weakPasswordError(password);
  if (weak) throw weak;

  const alreadyExists = () => {
    if (!auth.emailConfirmation) throw unprocessable('user_already_exists', 'User already registered');
    return obfuscatedUserJson(address, data);
  };

  let mail: Mail | undefined;
  let answer: unknown;
  try {
    answer = await auth.sql.begin(async (tx) => {
      const existing = await findUserByEmail(tx, address);
      if (existing) {
        if (existing.email_confirmed_at || !auth.emailConfirmation) return alreadyExists();
        // Unconfirmed: send the confirmation again, change nothing else (the caller is not proven to own it).
        mail = await auth.mailbox.confirmation(tx, existing.id, address, redirectTo);
        if (pkce) await createFlowState(tx, existing.id, pkce, 'email/signup');
        const [fresh] = await tx`select * from auth.users where id = ${existing.id}`;
        return userJson(tx, fresh as typeof existing);
      }
      const user = await insertUser(tx, {
        email: address,
        password,
        confirmed: !auth.emailConfirmation,
        userMetadata: data,
      });
      if (auth.emailConfirmation) {
        mail = await auth.mailbox.confirmation(tx, user.id, address, redirectTo);
        if (pkce) await createFlowState(tx, user.id, pkce, 'email/signup');
        const [fresh] = await tx`select * from auth.users where id = ${user.id}`;
        return userJson(tx, fresh as typeof user);
      }
      const session = await createSession(tx, user, 'password');
      return sessionJson(tx, auth.tokens, session.user, session.sessionId, session.refreshToken);
    });
  } catch (e) {
    if (!isUniqueViolation(e)) throw e;
    answer = alreadyExists();
  }
  if (mail) auth.mailbox.deliver(mail);
  sendJson(res, 200, answer);
};

/**
 * `POST /resend` `{type: 'signup', email}`: mails a fresh confirmation to an unconfirmed address.
 * The answer is the same `{}` whether or not the address exists or is already confirmed.
 */
export const resend: Handler = async (req, res, url, auth) => {
  const body = await readJson(req);
  const type = optionalString(body, 'type');
  const email = optionalString(body, 'email');
  if (type !== 'signup') throw badRequest('validation_failed', 'Missing one of these types: signup');
  if (!email) throw badRequest('validation_failed', 'An email address is required');
  const address = normaliseEmail(email);
  const redirectTo = url.searchParams.get('redirect_to') ?? undefined;
  let mail: Mail | undefined;
  await auth.sql.begin(async (tx) => {
    const user = await findUserByEmail(tx, address);
    if (user && !user.email_confirmed_at && auth.emailConfirmation) {
      mail = await auth.mailbox.confirmation(tx, user.id, address, redirectTo);
    }
  });
  if (mail) auth.mailbox.deliver(mail);
  sendJson(res, 200, {});
};
