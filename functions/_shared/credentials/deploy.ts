/**
 * Deploy credentials for private repositories on git hosts other than a linked GitHub: the
 * project's (or, failing that, its owner's) `git-deploy` credential for the repository's host —
 * a token, or a password with `config.username` — handed to the task's own workspace only, through
 * the same `git-token` endpoint and machine credential helper that carry GitHub tokens (so never in
 * argv, `.git/config` or the agent's environment).
 */
import { resolveCredential } from './store.ts';
import type { Sql } from '../db.ts';

/** The user name sent with a token when the credential names none (token hosts accept any). */
export const DEFAULT_DEPLOY_USERNAME = 'x-access-token';

/** How long the machine may reuse an answer: it asks again on every git run anyway. */
const ANSWER_LIFETIME_MS = 60 * 60_000;

export interface DeployCredential {
  username: string;
  token: string;
  expiresAt: number;
}

export async function deployCredentialFor(
  sql: Sql,
  key: CryptoKey,
  projectId: string,
  host: string,
  now = Date.now(),
): Promise<DeployCredential | null> {
  const [project] = await sql<{ owner_id: string }[]>`select owner_id from public.projects where id = ${projectId}`;
  if (!project) return null;
  const found = await resolveCredential(sql, key, project.owner_id, projectId, 'git-deploy', host.trim().toLowerCase());
  if (!found) return null;
  const name = found.config.username;
  return {
    username: typeof name === 'string' && name ? name : DEFAULT_DEPLOY_USERNAME,
    token: found.secret,
    expiresAt: now + ANSWER_LIFETIME_MS,
  };
}
