/**
 * The HTTP edge every JSON function shares (vm-agent, orchestrator): the validated body, the body
 * size limit, and the one mapping of errors to the wire — `{ error: { code, message, details? } }`
 * with the status. (The MCP function answers in JSON-RPC instead.)
 */
import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from 'hono';
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

/** A request body that went past its limit (declared or streamed). */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`The request body exceeds ${limit} bytes`);
  }
}

/**
 * The request's body, read as it streams and cut off as soon as it passes `maxSize` bytes: a
 * declared Content-Length over the limit is refused before reading, and streamed bytes are counted
 * whatever the headers say (chunked uploads have no length). Past the limit the stream is
 * cancelled and BodyTooLarge is thrown, so at most `maxSize` bytes (plus one chunk) are ever held.
 */
export async function readBodyBounded(req: Request, maxSize: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = req.headers.get('content-length');
  if (declared !== null && Number(declared) > maxSize) throw new BodyTooLarge(maxSize);
  if (!req.body) return new Uint8Array(new ArrayBuffer(0));
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxSize) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLarge(maxSize);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(new ArrayBuffer(size));
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * Refuses bodies over `maxSize` bytes with 413 `payload_too_large` (see {@link readBodyBounded});
 * a body within the limit is kept for the handlers. Mount it before auth, so that no one, signed
 * in or not, can make the function read more.
 */
export function limitBody(maxSize: number): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.raw.body) {
      let body: Uint8Array<ArrayBuffer>;
      try {
        body = await readBodyBounded(c.req.raw, maxSize);
      } catch (e) {
        if (e instanceof BodyTooLarge) throw new HttpError(413, 'payload_too_large', e.message);
        throw e;
      }
      c.req.raw = new Request(c.req.raw, { body });
    }
    await next();
  };
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
