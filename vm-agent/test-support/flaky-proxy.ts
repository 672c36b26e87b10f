/**
 * An HTTP forwarder in front of the control plane that a test can take down: while down, every
 * request (and every open one, such as a long-poll) fails — alternately with a 503 + Retry-After
 * and with a reset connection — the way a restarting gateway or a cut network looks to a machine.
 */
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FlakyProxy = {
  /** The proxy's URL standing for `target` (same path). */
  url: string;
  /** Paths of requests seen, in order (method + path without query). */
  readonly seen: string[];
  /** How many requests failed because the proxy was down. */
  readonly refused: number;
  down(): void;
  up(): void;
  close(): Promise<void>;
};

export async function startFlakyProxy(target: string): Promise<FlakyProxy> {
  const upstream = new URL(target);
  let isDown = false;
  let refused = 0;
  const seen: string[] = [];
  const open = new Set<Socket>();
  const inflight = new Set<ServerResponse>();
  const refuse = (req: IncomingMessage, res: ServerResponse) => {
    refused++;
    if (refused % 2 === 0) return void req.socket.destroy();
    res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end('control plane down');
  };
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${(req.url ?? '').replace(/\?.*$/, '')}`);
    if (isDown) return refuse(req, res);
    inflight.add(res);
    res.on('close', () => inflight.delete(res));
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.on('connection', (socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${upstream.pathname}`,
    seen,
    get refused() {
      return refused;
    },
    down() {
      isDown = true;
      // Requests in flight (a long-poll) are cut too.
      for (const res of inflight) res.destroy();
    },
    up() {
      isDown = false;
    },
    async close() {
      for (const socket of open) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
