// @ts-types="@modelcontextprotocol/sdk/types"
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';

export type JsonRpcId = string | number | null;

export interface JsonRpcErrorBody {
  jsonrpc: '2.0';
  id: JsonRpcId;
  error: { code: number; message: string; data?: unknown };
}

export function jsonRpcError(id: JsonRpcId, code: number, message: string, data?: unknown): JsonRpcErrorBody {
  return { jsonrpc: '2.0', id, error: { code, message, ...(data === undefined ? {} : { data }) } };
}

/** The request id of a parsed body, when it has a usable one. */
export function requestIdOf(body: unknown): JsonRpcId {
  if (body && typeof body === 'object' && !Array.isArray(body)) {
    const id = (body as { id?: unknown }).id;
    if (typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id))) return id;
  }
  return null;
}

/** The largest request body accepted (tool inputs are bounded well below this). */
export const MAX_BODY_BYTES = 1024 * 1024;

export type ParsedBody =
  { ok: true; message: Record<string, unknown> } | { ok: false; status: number; body: JsonRpcErrorBody };

/**
 * Reads and checks one JSON-RPC message before the SDK sees it, so that every refusal carries
 * the request id when there is one: bad JSON, batches (not part of MCP since 2025-06-18),
 * and messages that are not JSON-RPC 2.0 requests or notifications.
 */
export function parseJsonRpc(text: string): ParsedBody {
  if (new TextEncoder().encode(text).length > MAX_BODY_BYTES) {
    return {
      ok: false,
      status: 413,
      body: jsonRpcError(null, ErrorCode.InvalidRequest, `Request body exceeds ${MAX_BODY_BYTES} bytes`),
    };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {
      ok: false,
      status: 400,
      body: jsonRpcError(null, ErrorCode.ParseError, 'Parse error: the body is not valid JSON'),
    };
  }
  if (Array.isArray(value)) {
    return {
      ok: false,
      status: 400,
      body: jsonRpcError(null, ErrorCode.InvalidRequest, 'Invalid Request: batches are not supported'),
    };
  }
  const id = requestIdOf(value);
  if (!value || typeof value !== 'object') {
    return {
      ok: false,
      status: 400,
      body: jsonRpcError(null, ErrorCode.InvalidRequest, 'Invalid Request: expected a JSON-RPC object'),
    };
  }
  const m = value as Record<string, unknown>;
  const rawId = m.id;
  const idOk =
    rawId === undefined || typeof rawId === 'string' || (typeof rawId === 'number' && Number.isFinite(rawId));
  if (m.jsonrpc !== '2.0' || !idOk) {
    return {
      ok: false,
      status: 400,
      body: jsonRpcError(id, ErrorCode.InvalidRequest, 'Invalid Request: not a JSON-RPC 2.0 message'),
    };
  }
  if ('method' in m) {
    if (
      typeof m.method !== 'string' ||
      (m.params !== undefined && (typeof m.params !== 'object' || m.params === null))
    ) {
      return {
        ok: false,
        status: 400,
        body: jsonRpcError(
          id,
          ErrorCode.InvalidRequest,
          'Invalid Request: method must be a string and params an object',
        ),
      };
    }
    return { ok: true, message: m };
  }
  if ('result' in m || 'error' in m) return { ok: true, message: m };
  return { ok: false, status: 400, body: jsonRpcError(id, ErrorCode.InvalidRequest, 'Invalid Request: no method') };
}
