/**
 * Stored credentials: the user's write-only view (list what is set, replace, delete) and the one
 * read of a secret, for the function that hands it to its one consumer. Listing and deleting run
 * as the user (RLS decides); storing runs `store_credential` as the system for the verified user,
 * since only this function may write ciphertext.
 */
import type { CredentialSummary, StoreCredentialRequest } from '../common/contracts/credentials.ts';
import { secretHint } from '../common/contracts/credentials.ts';
import { asIdentity, fromPostgresError, type Sql } from '../db.ts';
import { HttpError } from '../http-error.ts';
import type { UserClaims } from '../user-auth.ts';
import { openCredential, sealCredential, type CredentialScope } from './cipher.ts';

type Row = Record<string, unknown>;

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

function summary(row: Row): CredentialSummary {
  return {
    id: row.id as string,
    type: row.credential_type as CredentialSummary['type'],
    provider: row.provider as string,
    projectId: (row.project_id as string | null) ?? null,
    hint: (row.hint as string | null) ?? '',
    baseUrl: (row.base_url as string | null) ?? null,
    config: (row.config as Record<string, unknown>) ?? {},
    updatedAt: iso(row.updated_at),
  };
}

const userIdentity = (user: UserClaims) => ({ ...user, role: 'authenticated' as const });

export async function listCredentials(sql: Sql, user: UserClaims): Promise<CredentialSummary[]> {
  const rows = await asIdentity(
    sql,
    userIdentity(user),
    (tx) => tx`
      select id, credential_type, provider, project_id, hint, base_url, config, updated_at
      from public.credentials
      order by project_id nulls first, credential_type, provider`,
  );
  return rows.map(summary);
}

export async function storeCredential(
  sql: Sql,
  key: CryptoKey,
  user: UserClaims,
  req: StoreCredentialRequest,
): Promise<CredentialSummary> {
  const scope: CredentialScope = {
    ownerId: user.sub,
    projectId: req.projectId ?? null,
    type: req.type,
    provider: req.provider,
  };
  const sealed = await sealCredential(key, scope, req.secret);
  try {
    const [row] = await sql`
      select * from public.store_credential(
        ${scope.ownerId}, ${scope.projectId}, ${scope.type}, ${scope.provider},
        ${sealed.ciphertext}, ${sealed.iv}, ${sealed.keyVersion}, ${secretHint(req.secret)},
        ${req.baseUrl ?? null}, ${sql.json((req.config ?? {}) as never)})`;
    return summary(row!);
  } catch (e) {
    throw fromPostgresError(e);
  }
}

export async function deleteCredential(sql: Sql, user: UserClaims, id: string): Promise<void> {
  const rows = await asIdentity(
    sql,
    userIdentity(user),
    (tx) => tx`delete from public.credentials where id = ${id} returning id`,
  );
  if (rows.length === 0) throw new HttpError(404, 'not_found', 'No such credential');
}

export interface ResolvedCredential {
  secret: string;
  baseUrl: string | null;
  config: Record<string, unknown>;
}

/**
 * The secret that applies to a project's work (the project's override, else the owner's), or null
 * when none is stored. Only for the function that hands it to its one consumer.
 */
export async function resolveCredential(
  sql: Sql,
  key: CryptoKey,
  ownerId: string,
  projectId: string | null,
  type: CredentialScope['type'],
  provider: string,
): Promise<ResolvedCredential | null> {
  const [row] = await sql`select * from public.resolve_credential(${ownerId}, ${projectId}, ${type}, ${provider})`;
  if (!row) return null;
  const secret = await openCredential(
    key,
    { ownerId, projectId: (row.project_id as string | null) ?? null, type, provider },
    { ciphertext: row.ciphertext as Uint8Array, iv: row.iv as Uint8Array, keyVersion: row.key_version as number },
  );
  return {
    secret,
    baseUrl: (row.base_url as string | null) ?? null,
    config: (row.config as Record<string, unknown>) ?? {},
  };
}
