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

/**
 * Forwards `req` to the function listening on `port` as `path`, streaming both bodies: the
 * request is piped as it arrives, the response is written chunk by chunk (SSE works). A client
 * that goes away aborts the upstream request. The request body is only read once the function
 * accepted the connection, so a refused connection (a process that just died) can be retried
 * through `onRefused` with nothing lost.
 */
export function forward(
  req: IncomingMessage,
  res: ServerResponse,
  port: number,
  path: string,
  agent: Agent,
  onRefused?: () => void,
): void {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  }
  Object.assign(headers, forwardedHeaders(req));

  const upstream = request({ host: '127.0.0.1', port, method: req.method, path, headers, agent });
  upstream.setTimeout(IDLE_TIMEOUT_MS, () => {
    upstream.destroy(Object.assign(new Error('idle timeout'), { code: 'IDLE_TIMEOUT' }));
  });
  upstream.on('response', (answer) => {
    const raw: string[] = [];
    for (let i = 0; i < answer.rawHeaders.length; i += 2) {
      const name = answer.rawHeaders[i]!;
      if (!HOP_BY_HOP.has(name.toLowerCase())) raw.push(name, answer.rawHeaders[i + 1]!);
    }
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, raw);
    res.flushHeaders();
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  let connected = false;
  upstream.on('socket', (socket) => {
    const go = () => {
      connected = true;
      req.pipe(upstream);
    };
    if (socket.connecting) socket.once('connect', go);
    else go();
  });
  upstream.on('error', (e: Error & { code?: string }) => {
    if (!connected && e.code === 'ECONNREFUSED' && onRefused && !res.destroyed) {
      onRefused();
      return;
    }
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
