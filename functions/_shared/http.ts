/**
 * The HTTP edge every JSON function shares (vm-agent, orchestrator): the validated body, the body
 * size limit, and the one mapping of errors to the wire — `{ error: { code, message, details? } }`
 * with the status. (The MCP function answers in JSON-RPC instead.)
 */
import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import { HttpError } from './http-error.ts';

/** The request's JSON body checked against `schema`; no body counts as `{}`. */
export async function jsonBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  const text = await c.req.text();
  let json: unknown = {};
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      throw new HttpError(400, 'invalid_json', 'The request body is not valid JSON');
    }
  }
  return schema.parse(json);
}

/** Refuses bodies over `maxSize` bytes with 413 `payload_too_large`. */
export function limitBody(maxSize: number): MiddlewareHandler {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new HttpError(413, 'payload_too_large', 'The request body is too large');
    },
  });
}

export const jsonNotFound: NotFoundHandler = (c) =>
  c.json(new HttpError(404, 'not_found', `No route ${c.req.method} ${new URL(c.req.url).pathname}`).toJSON(), 404);

/**
 * The app's `onError`: invalid input → 400 `invalid_params` with the issues, an HttpError → its
 * status (401s carry a Bearer challenge), anything else → 500 `internal`, logged as what failed
 * only — never the request or its tokens.
 */
export function jsonOnError(functionName: string): ErrorHandler {
  return (err, c) => {
    if (err instanceof z.ZodError) {
      return c.json(
        new HttpError(400, 'invalid_params', z.prettifyError(err), {
          issues: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
        }).toJSON(),
        400,
      );
    }
    if (err instanceof HttpError) {
      if (err.status === 401) c.header('www-authenticate', 'Bearer error="invalid_token"');
      return c.json(err.toJSON(), err.status as 400);
    }
    console.error(
      `${functionName} request failed:`,
      c.req.method,
      c.req.path,
      err instanceof Error ? err.message : err,
    );
    return c.json(new HttpError(500, 'internal', 'Internal error').toJSON(), 500);
  };
}
