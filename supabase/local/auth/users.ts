import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import { badRequest, unprocessable } from './http.ts';

/** A connection or a transaction: the queries below run in either. */
export type Db = postgres.ISql;

/** The columns of `auth.users` the Auth server reads (GoTrue's names). */
export interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  encrypted_password: string | null;
  email_confirmed_at: Date | null;
  confirmation_token: string | null;
  confirmation_sent_at: Date | null;
  recovery_sent_at: Date | null;
  email_change: string | null;
  email_change_token_new: string | null;
  email_change_sent_at: Date | null;
  last_sign_in_at: Date | null;
  raw_app_meta_data: Record<string, unknown> | null;
  raw_user_meta_data: Record<string, unknown> | null;
  created_at: Date | null;
  updated_at: Date | null;
  phone: string | null;
  phone_confirmed_at: Date | null;
  confirmed_at: Date | null;
  banned_until: Date | null;
  is_anonymous: boolean;
}

interface IdentityRow {
  id: string;
  provider_id: string;
  user_id: string;
  identity_data: Record<string, unknown>;
  provider: string;
  last_sign_in_at: Date | null;
  created_at: Date | null;
  updated_at: Date | null;
  email: string | null;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : undefined);

function identityJson(i: IdentityRow) {
  return {
    identity_id: i.id,
    id: i.provider_id,
    user_id: i.user_id,
    identity_data: i.identity_data,
    provider: i.provider,
    last_sign_in_at: iso(i.last_sign_in_at),
    created_at: iso(i.created_at),
    updated_at: iso(i.updated_at),
    email: i.email ?? undefined,
  };
}

/** The user object GoTrue answers with (timestamps that are unset are left out, as GoTrue does). */
export async function userJson(db: Db, user: UserRow) {
  const identities = await db<IdentityRow[]>`
    select * from auth.identities where user_id = ${user.id} order by created_at, id`;
  return {
    id: user.id,
    aud: user.aud ?? '',
    role: user.role ?? '',
    email: user.email ?? '',
    email_confirmed_at: iso(user.email_confirmed_at),
    phone: user.phone ?? '',
    phone_confirmed_at: iso(user.phone_confirmed_at),
    confirmation_sent_at: iso(user.confirmation_sent_at),
    confirmed_at: iso(user.confirmed_at),
    recovery_sent_at: iso(user.recovery_sent_at),
    new_email: user.email_change || undefined,
    email_change_sent_at: iso(user.email_change_sent_at),
    last_sign_in_at: iso(user.last_sign_in_at),
    banned_until: iso(user.banned_until),
    app_metadata: user.raw_app_meta_data ?? {},
    user_metadata: user.raw_user_meta_data ?? {},
    identities: identities.map(identityJson),
    created_at: iso(user.created_at),
    updated_at: iso(user.updated_at),
    is_anonymous: user.is_anonymous,
  };
}

export type UserJson = Awaited<ReturnType<typeof userJson>>;

/**
 * What GoTrue answers for a sign-up of an address that is already registered while confirmations
 * are on: a plausible user with a fresh id and no identities, so the answer does not reveal that
 * the address exists (GoTrue's guard against probing for registered addresses).
 */
export function obfuscatedUserJson(email: string, userMetadata: Record<string, unknown>) {
  const now = new Date().toISOString();
  return {
    id: randomUUID(),
    aud: 'authenticated',
    role: 'authenticated',
    email,
    phone: '',
    confirmation_sent_at: now,
    app_metadata: { provider: 'email', providers: ['email'] },
    user_metadata: userMetadata,
    identities: [],
    created_at: now,
    updated_at: now,
    is_anonymous: false,
  };
}

const EMAIL =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** Validates and normalises an email address as GoTrue does (lower case, at most 255 chars). */
export function normaliseEmail(email: string): string {
  const e = email.trim().toLowerCase();
  if (e.length > 255 || !EMAIL.test(e)) {
    throw badRequest('validation_failed', 'Unable to validate email address: invalid format');
  }
  return e;
}

/** GoTrue's default password rule: at least 6 characters. */
export const MIN_PASSWORD_LENGTH = 6;

/** GoTrue's 422 `weak_password`, with the reasons auth-js turns into `AuthWeakPasswordError.reasons`. */
export function weakPasswordError(password: string) {
  if (password.length >= MIN_PASSWORD_LENGTH) return null;
  const message = `Password should be at least ${MIN_PASSWORD_LENGTH} characters.`;
  const error = unprocessable('weak_password', message);
  Object.assign(error.extra, { weak_password: { reasons: ['length'], message } });
  return error;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isUuid = (id: string) => UUID.test(id);

export async function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  if (!isUuid(id)) return undefined;
  const [row] = await db<UserRow[]>`select * from auth.users where id = ${id}`;
  return row;
}

export async function findUserByEmail(db: Db, email: string): Promise<UserRow | undefined> {
  const [row] = await db<UserRow[]>`select * from auth.users where email = ${email} and deleted_at is null`;
  return row;
}

export interface NewUser {
  id?: string;
  email: string;
  password?: string;
  passwordHash?: string;
  confirmed: boolean;
  userMetadata: Record<string, unknown>;
  appMetadata?: Record<string, unknown>;
  role?: string;
  aud?: string;
}

/** Inserts a user with its email identity; the password is hashed by pgcrypto (bcrypt, cost 10). */
export async function insertUser(db: Db, u: NewUser): Promise<UserRow> {
  const id = u.id ?? randomUUID();
  const appMetadata = { provider: 'email', providers: ['email'], ...(u.appMetadata ?? {}) };
  const password = u.password ?? null;
  const hash = u.passwordHash ?? null;
  const [row] = await db<UserRow[]>`
    insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
      raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at, is_anonymous)
    values ('00000000-0000-0000-0000-000000000000', ${id}, ${u.aud ?? 'authenticated'},
      ${u.role ?? 'authenticated'}, ${u.email},
      coalesce(${hash}::text,
        case when ${password}::text is null then null else extensions.crypt(${password}::text, extensions.gen_salt('bf', 10)) end),
      ${u.confirmed ? new Date() : null}, ${db.json(appMetadata as never)},
      ${db.json(u.userMetadata as never)}, false, now(), now(), false)
    returning *`;
  const identityData = { sub: id, email: u.email, email_verified: u.confirmed, phone_verified: false };
  await db`
    insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
    values (${id}, ${id}, ${db.json(identityData as never)}, 'email', now(), now())`;
  return row!;
}

/** Whether `password` matches the user's bcrypt hash. */
export async function passwordMatches(db: Db, user: UserRow, password: string): Promise<boolean> {
  if (!user.encrypted_password) return false;
  const [row] = await db<{ ok: boolean }[]>`
    select extensions.crypt(${password}::text, encrypted_password) = encrypted_password as ok
    from auth.users where id = ${user.id}`;
  return row?.ok === true;
}

export async function setPassword(db: Db, userId: string, password: string): Promise<void> {
  await db`
    update auth.users
    set encrypted_password = extensions.crypt(${password}::text, extensions.gen_salt('bf', 10)), updated_at = now()
    where id = ${userId}`;
}

/** Marks the user's email confirmed, in the user row and its email identity. */
export async function confirmEmail(db: Db, userId: string): Promise<UserRow> {
  const [row] = await db<UserRow[]>`
    update auth.users
    set email_confirmed_at = coalesce(email_confirmed_at, now()), confirmation_token = '', updated_at = now()
    where id = ${userId} returning *`;
  await db`
    update auth.identities
    set identity_data = identity_data || '{"email_verified": true}'::jsonb, updated_at = now()
    where user_id = ${userId} and provider = 'email'`;
  return row!;
}

/** GoTrue merges metadata updates key by key; a null value removes the key. */
export function mergeMetadata(current: Record<string, unknown> | null, update: Record<string, unknown>) {
  const merged: Record<string, unknown> = { ...(current ?? {}) };
  for (const [k, v] of Object.entries(update)) {
    if (v === null) delete merged[k];
    else merged[k] = v;
  }
  return merged;
}

export function requireUuid(id: string): string {
  if (!isUuid(id)) {
    throw badRequest('validation_failed', 'user_id must be an UUID');
  }
  return id;
}
