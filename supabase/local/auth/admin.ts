import { requireAdmin } from './authenticate.ts';
import type { AuthContext, Handler } from './context.ts';
import {
  badRequest,
  discardBody,
  notFound,
  optionalBoolean,
  optionalObject,
  optionalString,
  readJson,
  sendJson,
  unprocessable,
} from './http.ts';
import {
  confirmEmail,
  findUserByEmail,
  findUserById,
  insertUser,
  mergeMetadata,
  normaliseEmail,
  requireUuid,
  setPassword,
  userJson,
  weakPasswordError,
  type Db,
  type UserRow,
} from './users.ts';

const userNotFound = () => notFound('user_not_found', 'User not found');
const emailExists = () => unprocessable('email_exists', 'A user with this email address has already been registered');

/** Go's duration syntax as GoTrue's `ban_duration` takes it ("24h", "1h30m", "90s"), or "none". */
function banUntil(duration: string): Date | null {
  if (duration === 'none') return null;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const parts = [...duration.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== duration) {
    throw badRequest('validation_failed', 'invalid format for ban duration');
  }
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
  return new Date(Date.now() + ms);
}

/** `POST /admin/users` (`auth.admin.createUser`). */
export const createUser: Handler = async (req, res, _url, auth) => {
  await requireAdmin(req, auth.tokens.keys);
  const body = await readJson(req);
  const email = optionalString(body, 'email');
  if (!email) throw badRequest('validation_failed', 'Unable to validate email address: invalid format');
  const address = normaliseEmail(email);
  const password = optionalString(body, 'password');
  const passwordHash = optionalString(body, 'password_hash');
  if (password !== undefined) {
    const weak = weakPasswordError(password);
    if (weak) throw weak;
  }
  const id = optionalString(body, 'id');
  const banDuration = optionalString(body, 'ban_duration');
  try {
    const user = await auth.sql.begin(async (tx) => {
      if (await findUserByEmail(tx, address)) throw emailExists();
      const created = await insertUser(tx, {
        id: id === undefined ? undefined : requireUuid(id),
        email: address,
        password,
        passwordHash,
        confirmed: optionalBoolean(body, 'email_confirm') === true,
        userMetadata: optionalObject(body, 'user_metadata') ?? {},
        appMetadata: optionalObject(body, 'app_metadata'),
        role: optionalString(body, 'role'),
        aud: optionalString(body, 'aud'),
      });
      if (banDuration) await tx`update auth.users set banned_until = ${banUntil(banDuration)} where id = ${created.id}`;
      return userJson(tx, (await findUserById(tx, created.id))!);
    });
    sendJson(res, 200, user);
  } catch (e) {
    if ((e as { code?: string }).code === '23505') throw emailExists();
    throw e;
  }
};

/** `GET /admin/users?page&per_page` with `X-Total-Count` and `Link` headers, as GoTrue pages. */
export const listUsers: Handler = async (req, res, url, auth) => {
  await discardBody(req);
  await requireAdmin(req, auth.tokens.keys);
  const page = Math.max(1, Number.parseInt(url.searchParams.get('page') || '1', 10) || 1);
  const perPage = Math.min(1000, Math.max(1, Number.parseInt(url.searchParams.get('per_page') || '50', 10) || 50));
  const [{ total }] = (await auth.sql`select count(*)::int as total from auth.users`) as unknown as [{ total: number }];
  const rows = await auth.sql<UserRow[]>`
    select * from auth.users order by created_at desc, id limit ${perPage} offset ${(page - 1) * perPage}`;
  const users = await Promise.all(rows.map((r) => userJson(auth.sql, r)));
  const last = Math.max(1, Math.ceil(total / perPage));
  const links: string[] = [];
  if (page < last) links.push(`</admin/users?page=${page + 1}&per_page=${perPage}>; rel="next"`);
  links.push(`</admin/users?page=${last}&per_page=${perPage}>; rel="last"`);
  sendJson(res, 200, { users, aud: 'authenticated' }, { 'x-total-count': String(total), link: links.join(', ') });
};

export const getUserById: Handler = async (req, res, url, auth) => {
  await discardBody(req);
  await requireAdmin(req, auth.tokens.keys);
  const user = await findUserById(auth.sql, userIdOf(url));
  if (!user) throw userNotFound();
  sendJson(res, 200, await userJson(auth.sql, user));
};

/** `PUT /admin/users/{id}`: email (no confirmation), password, email_confirm, metadata, role, ban. */
export const updateUserById: Handler = async (req, res, url, auth) => {
  await requireAdmin(req, auth.tokens.keys);
  const body = await readJson(req);
  const id = userIdOf(url);
  const user = await auth.sql.begin((tx) => applyAdminUpdate(tx, auth, id, body));
  sendJson(res, 200, user);
};

async function applyAdminUpdate(tx: Db, _auth: AuthContext, id: string, body: Record<string, unknown>) {
  const user = await findUserById(tx, id);
  if (!user) throw userNotFound();
  const email = optionalString(body, 'email');
  if (email !== undefined) {
    const address = normaliseEmail(email);
    const other = await findUserByEmail(tx, address);
    if (other && other.id !== id) throw emailExists();
    await tx`update auth.users set email = ${address}, updated_at = now() where id = ${id}`;
    await tx`update auth.identities set identity_data = identity_data || jsonb_build_object('email', ${address}::text)
             where user_id = ${id} and provider = 'email'`;
  }
  const password = optionalString(body, 'password');
  if (password !== undefined) {
    const weak = weakPasswordError(password);
    if (weak) throw weak;
    await setPassword(tx, id, password);
  }
  if (optionalBoolean(body, 'email_confirm') === true) await confirmEmail(tx, id);
  const userMetadata = optionalObject(body, 'user_metadata');
  if (userMetadata) {
    const merged = mergeMetadata(user.raw_user_meta_data, userMetadata);
    await tx`update auth.users set raw_user_meta_data = ${tx.json(merged as never)}, updated_at = now() where id = ${id}`;
  }
  const appMetadata = optionalObject(body, 'app_metadata');
  if (appMetadata) {
    const merged = mergeMetadata(user.raw_app_meta_data, appMetadata);
    await tx`update auth.users set raw_app_meta_data = ${tx.json(merged as never)}, updated_at = now() where id = ${id}`;
  }
  const role = optionalString(body, 'role');
  if (role !== undefined) await tx`update auth.users set role = ${role}, updated_at = now() where id = ${id}`;
  const ban = optionalString(body, 'ban_duration');
  if (ban !== undefined) {
    await tx`update auth.users set banned_until = ${banUntil(ban)}, updated_at = now() where id = ${id}`;
    if (ban !== 'none') await tx`delete from auth.sessions where user_id = ${id}`;
  }
  return userJson(tx, (await findUserById(tx, id))!);
}

/** `DELETE /admin/users/{id}` → `{}` (GoTrue answers an empty object). Sessions go with the user. */
export const deleteUserById: Handler = async (req, res, url, auth) => {
  await requireAdmin(req, auth.tokens.keys);
  await discardBody(req);
  const id = userIdOf(url);
  const deleted = await auth.sql`delete from auth.users where id = ${id} returning id`;
  if (deleted.length === 0) throw userNotFound();
  sendJson(res, 200, {});
};

function userIdOf(url: URL): string {
  const id = decodeURIComponent(url.pathname.split('/').pop() ?? '');
  return requireUuid(id);
}
