import { randomUUID } from 'node:crypto';
import type postgres from 'postgres';
import type { VerifiedClaims } from './tokens.ts';

/** Who asks for what: the sub topic (channel name without `realtime:`), the claims, the x-headers. */
export interface AuthContext {
  topic: string;
  claims: VerifiedClaims;
  headers: Record<string, string>;
}

export type Extension = 'broadcast' | 'presence';

class Rollback extends Error {}

/** Runs `fn` in a transaction on the admin pool and always rolls it back. */
async function rolledBack<T>(sql: postgres.Sql, fn: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  let result: T | undefined;
  try {
    await sql.begin(async (tx) => {
      result = await fn(tx);
      throw new Rollback();
    });
  } catch (e) {
    if (!(e instanceof Rollback)) throw e;
  }
  return result as T;
}

/**
 * Sets the transaction-local settings policies see, as hosted Realtime's probe does: `role`, `realtime.topic`,
 * `request.jwt.claims`, `request.jwt.claim.sub|role`, `request.headers`. The admin connection may be
 * a superuser, so a claims role that is itself a superuser is refused rather than trusted.
 */
async function become(tx: postgres.TransactionSql, ctx: AuthContext): Promise<void> {
  const [row] = await tx`
    select set_config('role', ${ctx.claims.role}, true),
           set_config('realtime.topic', ${ctx.topic}, true),
           set_config('request.jwt.claims', ${JSON.stringify(ctx.claims)}, true),
           set_config('request.jwt.claim.sub', ${typeof ctx.claims.sub === 'string' ? ctx.claims.sub : ''}, true),
           set_config('request.jwt.claim.role', ${ctx.claims.role}, true),
           set_config('request.headers', ${JSON.stringify(ctx.headers)}, true),
           current_setting('is_superuser') as su`;
  if (row?.su !== 'off') throw new Error(`role ${ctx.claims.role} may not be used by Realtime`);
}

/**
 * The read probe: as admin, insert one row per extension for the topic; then, as the claims' role,
 * select them back. RLS decides which are visible. Everything is rolled back.
 */
export async function probeRead(
  sql: postgres.Sql,
  ctx: AuthContext,
  extensions: Extension[],
): Promise<Record<Extension, boolean>> {
  const ids = extensions.map(() => randomUUID());
  const visible = await rolledBack(sql, async (tx) => {
    for (const [i, extension] of extensions.entries()) {
      await tx`insert into realtime.messages (id, topic, extension) values (${ids[i]!}, ${ctx.topic}, ${extension})`;
    }
    await become(tx, ctx);
    const rows = await tx<{ id: string }[]>`select id::text from realtime.messages where id = any(${ids}::uuid[])`;
    return new Set(rows.map((r) => r.id));
  });
  const result = { broadcast: false, presence: false };
  for (const [i, extension] of extensions.entries()) result[extension] = visible.has(ids[i]!);
  return result;
}

/** The write probe: as the claims' role, insert a row for the topic; `insufficient_privilege` means no. */
export async function probeWrite(sql: postgres.Sql, ctx: AuthContext, extension: Extension): Promise<boolean> {
  return rolledBack(sql, async (tx) => {
    await become(tx, ctx);
    try {
      await tx`insert into realtime.messages (topic, extension) values (${ctx.topic}, ${extension})`;
      return true;
    } catch (e) {
      if ((e as { code?: string }).code === '42501') return false;
      throw e;
    }
  });
}
