/**
 * What the vm-agent function's sub-apps share: their dependencies, the one error constructor
 * (codes from the contract's {@link VmAgentErrorCode} union) and the token middleware each
 * sub-app uses once.
 */
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { VmAgentErrorCode } from '../_shared/common/contracts/vm-agent.ts';
import { bearerToken } from '../_shared/common/bearer.ts';
import type { Sql } from '../_shared/db.ts';
import type { TaskTokens } from '../_shared/github/task-tokens.ts';
import { HttpError } from '../_shared/http-error.ts';
import { verifySamToken, type SamClaims, type SamTokenKind } from '../_shared/sam-tokens.ts';
import type { RegisterLimits } from './register-limits.ts';

export interface VmAgentDeps {
  sql: Sql;
  /** SAM's token secret (`SAM_JWT_SECRET`). */
  secret: string;
  /** SAM's MCP endpoint handed to agents (`${SUPABASE_URL}/functions/v1/mcp`). */
  mcpUrl: string;
  /**
   * The credential key (`SAM_CREDENTIAL_KEY`): a session start answers the agent's model
   * credential with it. Without it, agents that need a credential cannot start.
   */
  credentialKey?: CryptoKey;
  /** GitHub installation tokens for tasks (`/workspaces/git-token`); none: GitHub is not configured. */
  github?: TaskTokens | null;
  /** How often a waiting long-poll looks for commands. */
  pollIntervalMs?: number;
  /** Tries of the unauthenticated registration route per source and per bootstrap token. */
  registerLimits?: Partial<RegisterLimits>;
}

export type Env = { Variables: { claims: SamClaims } };

/** The one way a vm-agent route refuses: an HttpError whose code is in the contract's union. */
export function vmAgentError(status: number, code: VmAgentErrorCode, message: string, details?: unknown): HttpError {
  return new HttpError(status, code, message, details);
}

export const uuidParam = (value: string, what: string): string => {
  if (!z.uuid().safeParse(value).success) throw vmAgentError(400, 'invalid_params', `${what} is not a uuid`);
  return value;
};

/**
 * The token middleware: a SAM token of `kind` in the Authorization header, signature, issuer and
 * kind checked; its claims for the handlers. The database checks its row on every statement.
 * `expiredGraceSeconds` lets a JWT whose `exp` passed through (for renewal only: the route's SQL
 * then decides whether the row may be renewed).
 */
export function tokenAuth(
  secret: string,
  kind: SamTokenKind,
  expiredGraceSeconds?: (path: string) => number,
): MiddlewareHandler<Env> {
  return async (c, next) => {
    const grace = expiredGraceSeconds?.(c.req.path) ?? 0;
    c.set('claims', await verifySamToken(secret, bearerToken(c.req.header('authorization')), kind, grace));
    await next();
  };
}
