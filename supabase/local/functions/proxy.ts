import { request, type Agent, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';

/** Headers that belong to one connection and are not forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The largest request body the gateway forwards to a function. */
export const MAX_FUNCTION_BODY_BYTES = 20 * 1024 * 1024;

/** The hosted request idle timeout: no bytes either way for this long ends the request with 504. */
export const IDLE_TIMEOUT_MS = 150_000;

export function jsonError(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** What the gateway tells the function about the original request. */
export function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const host = req.headers.host ?? '127.0.0.1';
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(host);
  const proto = (req.headers['x-forwarded-proto'] as string | undefined) ?? 'http';
  const port = m?.[2] ?? (proto === 'https' ? '443' : '80');
  const remote = req.socket.remoteAddress;
  const prior = req.headers['x-forwarded-for'] as string | undefined;
  return {
    'x-forwarded-host': m?.[1] ?? host,
    'x-forwarded-proto': proto,
    'x-forwarded-port': port,
    ...(remote ? { 'x-forwarded-for': prior ? `${prior}, ${remote}` : remote } : {}),
  };
}

/** How long, and how much, the rest of an answered request's body is read and dropped. */
const LINGER_MS = 5_000;
const LINGER_BYTES = 8 * 1024 * 1024;

/**
 * Once a request is answered while its body is still arriving (a 413), the rest is read and
 * dropped for a while, never kept: closing at once would reset the connection under the client,
 * which then loses the answer it was sent. Past LINGER_BYTES or LINGER_MS the connection is cut.
 */
function discardRest(req: IncomingMessage): void {
  if (req.complete) return;
  let dropped = 0;
  const cut = () => req.socket.destroy();
  const timer = setTimeout(cut, LINGER_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > LINGER_BYTES) cut();
  });
  req.once('end', () => clearTimeout(timer));
  req.socket.once('close', () => clearTimeout(timer));
  req.resume();
}

/** 413 for a body over the platform cap; the rest of the upload is dropped, not forwarded. */
function tooLarge(req: IncomingMessage, res: ServerResponse): void {
  jsonError(res, 413, { code: 'PAYLOAD_TOO_LARGE', message: `Request body exceeds ${MAX_FUNCTION_BODY_BYTES} bytes` });
  discardRest(req);
}

/**
 * Forwards `req` to the function listening on `port` as `path`, streaming both bodies: the
 * request is written as it arrives (with backpressure), the response chunk by chunk (SSE works).
 * A client that goes away aborts the upstream request. The request body is only read once the
 * function accepted the connection, so a refused connection (a process that just died) can be
 * retried through `onRefused` with nothing lost.
 *
 * The body is capped at MAX_FUNCTION_BODY_BYTES while it streams (a declared Content-Length over
 * it is refused before connecting): past the cap the upstream request is aborted and the client
 * gets 413. A function that answers before reading the whole body (its own 413) is answered
 * through; in both cases the rest of the upload is dropped (see discardRest), never forwarded.
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  port: number,
  path: string,
  agent: Agent,
  onRefused?: () => void,
): void {
  if (Number(req.headers['content-length']) > MAX_FUNCTION_BODY_BYTES) return tooLarge(req, res);
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  Object.assign(headers, forwardedHeaders(req));

  const upstream = request({ host: '127.0.0.1', port, method: req.method, path, headers, agent });
  upstream.setTimeout(IDLE_TIMEOUT_MS, () => {
    upstream.destroy(Object.assign(new Error('idle timeout'), { code: 'IDLE_TIMEOUT' }));
  });
  /** Set once the request body stops flowing upstream: sent whole, cut at the cap, or answered early. */
  let bodyDone = false;
  let answer: IncomingMessage | undefined;
  const stopBody = () => {
    bodyDone = true;
    req.removeListener('data', onData);
    req.removeListener('end', onEnd);
  };
  let received = 0;
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    if (received > MAX_FUNCTION_BODY_BYTES) {
      stopBody();
      upstream.destroy(Object.assign(new Error('payload too large'), { code: 'PAYLOAD_TOO_LARGE' }));
      if (res.headersSent) res.destroy();
      else tooLarge(req, res);
      return;
    }
    if (!upstream.write(chunk)) req.pause();
  };
  const onEnd = () => {
    bodyDone = true;
    upstream.end();
  };
  upstream.on('drain', () => {
    if (!bodyDone) req.resume();
  });
  upstream.on('response', (response) => {
    answer = response;
    // The function answered before the body ended: it wants no more, and no more is forwarded.
    if (!bodyDone) {
      stopBody();
      discardRest(req);
    }
    const raw: string[] = [];
    for (let i = 0; i < response.rawHeaders.length; i += 2) {
      const name = response.rawHeaders[i]!;
      if (!HOP_BY_HOP.has(name.toLowerCase())) raw.push(name, response.rawHeaders[i + 1]!);
    }
    res.writeHead(response.statusCode ?? 502, response.statusMessage, raw);
    res.flushHeaders();
    response.pipe(res);
    response.on('error', () => res.destroy());
  });
  let connected = false;
  upstream.on('socket', (socket) => {
    const go = () => {
      connected = true;
      req.on('data', onData);
      req.on('end', onEnd);
      req.resume();
    };
    if (socket.connecting) socket.once('connect', go);
    else go();
  });
  upstream.on('error', (e: Error & { code?: string }) => {
    if (!connected && e.code === 'ECONNREFUSED' && onRefused && !res.destroyed) {
      onRefused();
      return;
    }
    // Already answered: an answer read to its end (the function then closed on an unread body),
    // or the cap's 413.
    if (answer?.complete || e.code === 'PAYLOAD_TOO_LARGE') return;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (e.code === 'IDLE_TIMEOUT') {
      jsonError(res, 504, { code: 'IDLE_TIMEOUT', message: 'Function did not respond in time' });
      return;
    }
    // The client went away: nobody to answer.
    if (res.destroyed) return;
    jsonError(res, 500, {
      code: 'WORKER_ERROR',
      message: 'Function exited due to an error (please check logs)',
    });
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
}
