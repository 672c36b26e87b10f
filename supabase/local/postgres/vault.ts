import postgres from 'postgres';

/** Where Postgres finds the orchestrator (read by `public.sam_wake_orchestrator()`). */
export interface OrchestratorEndpoint {
  /** The functions' base URL, e.g. http://127.0.0.1:54321/functions/v1 */
  functionsUrl: string;
  /** The orchestrator's bearer secret (SAM_ORCHESTRATOR_SECRET). */
  secret: string;
}

/** Creates or updates a named Vault secret, as an operator would on hosted with vault.create_secret. */
export async function setVaultSecret(sql: postgres.Sql, name: string, value: string, description = ''): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtext(${'vault:' + name}))`;
    const [row] = await tx`select id from vault.secrets where name = ${name}`;
    if (row) await tx`select vault.update_secret(${row.id}, ${value}, ${name}, ${description})`;
    else await tx`select vault.create_secret(${value}, ${name}, ${description})`;
  });
}

/** Writes `sam_functions_url` and `sam_orchestrator_secret` into the database at `databaseUrl`. */
export async function writeOrchestratorEndpoint(databaseUrl: string, endpoint: OrchestratorEndpoint): Promise<void> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await setVaultSecret(sql, 'sam_functions_url', endpoint.functionsUrl, 'where Postgres reaches the edge functions');
    await setVaultSecret(
      sql,
      'sam_orchestrator_secret',
      endpoint.secret,
      'the bearer secret of the orchestrator function',
    );
  } finally {
    await sql.end();
  }
}
