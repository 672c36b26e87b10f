import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearer } from '../gateway.ts';
import { probeWrite } from './authorization.ts';
import type { RealtimeDeps } from './channel.ts';
import { forwardedHeaders, verifyToken } from './tokens.ts';

const MAX_BODY = 3 * 1024 * 1024;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new HttpError(413, 'Payload too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(422, 'Body is not valid JSON');
  }
}

/**
 * Realtime's REST broadcast endpoints, `path` relative to `/realtime/v1`:
 * - `POST /api/broadcast` `{messages:[{topic, event, payload, private?, id?}]}` → 202 empty; private
 *   messages the caller may not write are skipped silently;
 * - `POST /api/broadcast/:topic/events/:event[?private=true]` with a JSON or octet-stream body →
 *   202, or 403 when a private write is denied.
 * The gateway already turned the API key into a Bearer JWT; it must carry role and exp (else 401).
 * `persist` is accepted and ignored: the local server keeps no replay store.
 */
export async function handleRestBroadcast(
  deps: RealtimeDeps,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  const single = /^\/api\/broadcast\/([^/]+)\/events\/([^/]+)$/.exec(path);
  if (path !== '/api/broadcast' && !single) return json(res, 404, { message: 'Not found' });
  if (req.method !== 'POST') return json(res, 405, { message: 'Method not allowed' });
  const verified = await verifyToken(deps.keys, bearer(req.headers.authorization));
  if (!verified.ok) return json(res, 401, { message: 'Unauthorized' });
  const claims = verified.claims;
  const headers = forwardedHeaders(req);
  const allowed = new Map<string, Promise<boolean>>();
  const mayWrite = (topic: string) => {
    let p = allowed.get(topic);
    if (!p) allowed.set(topic, (p = probeWrite(deps.sql, { topic, claims, headers }, 'broadcast')));
    return p;
  };
  try {
    const body = await readBody(req);
    if (single)
      await sendOne(deps, req, body, decodeURIComponent(single[1]!), decodeURIComponent(single[2]!), mayWrite);
    else await batch(deps, body, mayWrite);
  } catch (e) {
    if (e instanceof HttpError) return json(res, e.status, { message: e.message });
    throw e;
  }
  res.writeHead(202);
  res.end();
}

async function batch(deps: RealtimeDeps, body: Buffer, mayWrite: (topic: string) => Promise<boolean>): Promise<void> {
  const parsed = parseJson(body) as { messages?: unknown };
  if (!parsed || !Array.isArray(parsed.messages)) throw new HttpError(422, 'messages must be a list');
  const messages = parsed.messages.map((m: unknown, i) => {
    const o = (m && typeof m === 'object' ? m : {}) as Record<string, unknown>;
    if (typeof o.topic !== 'string' || o.topic === '') throw new HttpError(422, `messages[${i}].topic is required`);
    if (typeof o.event !== 'string' || o.event === '') throw new HttpError(422, `messages[${i}].event is required`);
    if (!o.payload || typeof o.payload !== 'object') throw new HttpError(422, `messages[${i}].payload must be a map`);
    return {
      topic: o.topic,
      event: o.event,
      payload: o.payload,
      private: o.private === true,
      id: typeof o.id === 'string' ? o.id : undefined,
    };
  });
  for (const m of messages) {
    if (m.private && !(await mayWrite(m.topic))) continue;
    deps.registry.broadcast(m.private, m.topic, {
      event: m.event,
      payload: m.payload,
      ...(m.id ? { meta: { id: m.id } } : {}),
    });
  }
}

async function sendOne(
  deps: RealtimeDeps,
  req: IncomingMessage,
  body: Buffer,
  topic: string,
  event: string,
  mayWrite: (topic: string) => Promise<boolean>,
): Promise<void> {
  const isPrivate = new URL(req.url ?? '/', 'http://localhost').searchParams.get('private') === 'true';
  const binary = (req.headers['content-type'] ?? '').startsWith('application/octet-stream');
  const payload = binary ? body : parseJson(body);
  if (isPrivate && !(await mayWrite(topic))) throw new HttpError(403, 'Unauthorized');
  deps.registry.broadcast(isPrivate, topic, { event, payload });
}
