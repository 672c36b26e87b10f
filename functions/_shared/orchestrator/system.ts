import { fromPostgresError, type Sql, type Tx } from '../db.ts';

/**
 * Runs `fn` as the system (`service_role`) with `sam.actor = 'orchestrator'`, so the events the
 * SQL functions write name who acted. The orchestrator holds no user's token: it acts on jobs
 * Postgres gave it, through the same guarded SQL functions.
 */
export async function asOrchestrator<T>(sql: Sql, fn: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    return (await sql.begin(async (tx) => {
      await tx.unsafe('set local role service_role');
      await tx`select set_config('sam.actor', 'orchestrator', true)`;
      return fn(tx);
    })) as T;
  } catch (e) {
    throw fromPostgresError(e);
  }
}
