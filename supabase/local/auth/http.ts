import type { IncomingMessage, ServerResponse } from 'node:http';

/** The API version GoTrue answers with; auth-js reads `error.code` only when it is echoed. */
export const API_VERSION = '2024-01-01';

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * An error in GoTrue's shape: `code` is the string error code (API version 2024-01-01), and the
 * older `error_code` / `msg` fields are sent too, so every auth-js version finds what it reads.
 */
export class AuthError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const badRequest = (code: string, message: string) => new AuthError(400, code, message);
export const unprocessable = (code: string, message: string) => new AuthError(422, code, message);
export const forbidden = (code: string, message: string) => new AuthError(403, code, message);
export const notFound = (code: string, message: string) => new AuthError(404, code, message);

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-supabase-api-version': API_VERSION,
    ...headers,
  });
  res.end(JSON.stringify(body));
}

export function sendNoContent(res: ServerResponse) {
  res.writeHead(204, { 'x-supabase-api-version': API_VERSION });
  res.end();
}

export function sendError(res: ServerResponse, error: AuthError) {
  sendJson(res, error.status, {
    code: error.code,
    error_code: error.code,
    message: error.message,
    msg: error.message,
    ...error.extra,
  });
}

/** Reads the request body as a JSON object; anything else is GoTrue's 400 `bad_json`. */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new AuthError(413, 'request_too_large', 'Request body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw badRequest('bad_json', `Could not parse request body as JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw badRequest('bad_json', 'Could not parse request body as JSON: expected an object');
  }
  return value as Record<string, unknown>;
}

/** Drains a body the endpoint does not use, so the connection can be reused. */
export async function discardBody(req: IncomingMessage): Promise<void> {
  for await (const _chunk of req) {
    // nothing to keep
  }
}

/** A string field of a JSON body; a present value of another type is a validation error. */
export function optionalString(body: Record<string, unknown>, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw badRequest('validation_failed', `${key} must be a string`);
  return v;
}

export function optionalBoolean(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest('validation_failed', `${key} must be a boolean`);
  return v;
}

export function optionalObject(body: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest('validation_failed', `${key} must be an object`);
  return v as Record<string, unknown>;
}
