import { asIdentity, fromPostgresError, type Sql, type Tx } from '../db.ts';
import { HttpError } from '../http-error.ts';
import type { SamClaims } from '../sam-tokens.ts';

/**
 * Runs `fn` as the node or workspace the verified token names, after checking in the same
 * transaction that its `tokens` row still counts (unexpired, unrevoked): a revoked token is a 401,
 * whatever the JWT's own `exp` says. RLS and the SQL functions' checks decide everything else.
 */
export function asCaller<T>(sql: Sql, claims: SamClaims, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return asIdentity(sql, claims, async (tx) => {
    const [row] =
      claims.kind === 'node'
        ? await tx`select public.current_node_id() as id`
        : await tx`select public.current_workspace_id() as id`;
    if (!row?.id) {
      throw new HttpError(401, 'token_revoked', `This ${claims.kind} token has expired or been revoked`);
    }
    return fn(tx);
  });
}

/**
 * Runs `fn` as the node a possibly expired token names, without the liveness check of
 * {@link asCaller}: only for renewing that token, where `renew_node_token()` checks the row itself
 * (unrevoked, within the renewal grace, node live).
 */
export function asNodeToRenew<T>(sql: Sql, claims: SamClaims, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (claims.kind !== 'node') throw new HttpError(401, 'invalid_token', 'This endpoint takes a node token');
  return asIdentity(sql, claims, fn);
}

/**
 * Runs `fn` as the system (`service_role`), for the one call no token can make: registration,
 * where the one-time bootstrap token passed to register_node is the credential.
 */
export async function asSystem<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    return (await sql.begin(async (tx) => {
      await tx.unsafe('set local role service_role');
      return fn(tx);
    })) as T;
  } catch (e) {
    throw fromPostgresError(e);
  }
}

/** Postgres `timestamptz` as JSON (`2026-11-21T13:00:00.123+00:00`) or epoch seconds → ISO 8601. */
export function isoTime(value: string | number): string {
  return new Date(typeof value === 'number' ? value * 1000 : value).toISOString();
}
