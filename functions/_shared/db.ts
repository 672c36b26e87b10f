import postgres from 'postgres';
import { HttpError } from './http-error.ts';

export type Sql = postgres.Sql;
export type Tx = postgres.TransactionSql;

/** Roles a request may act as. Anything else is a bug, refused before it reaches Postgres. */
const IDENTITY_ROLES = new Set(['anon', 'authenticated', 'sam_node', 'sam_workspace', 'sam_agent']);

/** One pool per isolate; `prepare: false` keeps it usable behind a transaction pooler. */
export function connect(url: string): Sql {
  return postgres(url, { max: 5, prepare: false, idle_timeout: 20, onnotice: () => {} });
}

/**
 * Runs `fn` in a transaction as the request's identity: `set local role` plus
 * `request.jwt.claims`, exactly what PostgREST does. RLS and the SQL functions' own checks then
 * decide; a handler that passes a wrong id is refused by the database, not trusted.
 */
export async function asIdentity<T>(
  sql: Sql,
  claims: { role: string } & Record<string, unknown>,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  if (!IDENTITY_ROLES.has(claims.role)) throw new Error(`refusing to act as role ${claims.role}`);
  try {
    return (await sql.begin(async (tx) => {
      await tx.unsafe(`set local role ${claims.role}`);
      await tx`select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
      return fn(tx);
    })) as T;
  } catch (e) {
    throw fromPostgresError(e);
  }
}

/**
 * Maps the SQLSTATEs our SQL functions raise to the one error type. Anything unexpected stays an
 * error (a failed query is never turned into an empty result) and surfaces as 500.
 */
export function fromPostgresError(e: unknown): unknown {
  if (e instanceof HttpError) return e;
  const pg = e as { code?: string; message?: string; detail?: string; hint?: string };
  if (typeof pg.code !== 'string' || !/^[0-9A-Z]{5}$/.test(pg.code)) return e;
  const message = pg.message ?? 'database error';
  const details = pg.detail || pg.hint ? { detail: pg.detail, hint: pg.hint } : undefined;
  switch (pg.code) {
    case '42501':
      return new HttpError(403, 'not_allowed', message, details);
    case '28000':
      return new HttpError(401, 'invalid_token', message, details);
    case 'P0002':
      return new HttpError(404, 'not_found', message, details);
    case '54000':
      return new HttpError(429, 'limit_reached', message, details);
    case '55000':
      return new HttpError(409, 'invalid_state', message, details);
    case '22023':
    case '22P02':
    case '23514':
    case '22001':
      return new HttpError(400, 'invalid_params', message, details);
    case '23505':
      return new HttpError(409, 'conflict', message, details);
    default:
      return e;
  }
}
