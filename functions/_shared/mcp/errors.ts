// @ts-types="@modelcontextprotocol/sdk/types"
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { HttpError } from '../http-error.ts';

/**
 * JSON-RPC error codes of SAM's MCP server. Standard codes for protocol faults; the
 * implementation-defined range (-32000…-32099) for refusals, each with `data.code` naming the
 * reason (and `data.limit` naming the limit that was hit).
 */
export const SamErrorCode = {
  Unauthorized: -32001,
  NotAllowed: -32003,
  NotFound: -32004,
  LimitReached: -32005,
  InvalidState: -32009,
  RateLimited: -32029,
} as const;

const BY_HTTP_CODE: Record<string, number> = {
  missing_token: SamErrorCode.Unauthorized,
  invalid_token: SamErrorCode.Unauthorized,
  token_expired: SamErrorCode.Unauthorized,
  token_revoked: SamErrorCode.Unauthorized,
  not_allowed: SamErrorCode.NotAllowed,
  not_found: SamErrorCode.NotFound,
  limit_reached: SamErrorCode.LimitReached,
  rate_limited: SamErrorCode.RateLimited,
  invalid_state: SamErrorCode.InvalidState,
  conflict: SamErrorCode.InvalidState,
  invalid_params: ErrorCode.InvalidParams,
};

/** Turns anything a tool threw into an McpError; unknown failures become a bare internal error. */
export function toMcpError(e: unknown): McpError {
  if (e instanceof McpError) return e;
  if (e instanceof HttpError) {
    const code = BY_HTTP_CODE[e.code] ?? ErrorCode.InternalError;
    const data: Record<string, unknown> = { code: e.code };
    const limit = limitName(e);
    if (limit) data.limit = limit;
    return new McpError(code, e.message, data);
  }
  return new McpError(ErrorCode.InternalError, 'Internal error', { code: 'internal_error' });
}

/** The setting a limit refusal names (SQL puts it in the error's DETAIL as `limit=<key>`). */
function limitName(e: HttpError): string | undefined {
  const detail = (e.details as { detail?: string } | undefined)?.detail;
  return /limit=([a-z_]+)/.exec(detail ?? '')?.[1];
}
