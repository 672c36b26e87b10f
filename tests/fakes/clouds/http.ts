/**
 * What the cloud fakes share: a Node HTTP server on 127.0.0.1 with a random port, the request body
 * read whole, JSON replies, and a way to drop an answer (the socket closed after the work is done:
 * the client sees a network error although the cloud did what was asked).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface FakeReply {
  status: number;
  headers?: Record<string, string>;
  json?: unknown;
  text?: string;
  /** Close the connection instead of answering (after the work was done). */
  drop?: boolean;
}

export class FakeHttpServer {
  private server: Server | null = null;
  url = '';

  constructor(private readonly handle: (req: FakeRequest) => FakeReply) {}

  async start(): Promise<string> {
    const server = createServer((req, res) => void this.serve(req, res));
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: FakeRequest = {
      method: req.method ?? 'GET',
      url: new URL(req.url ?? '/', 'http://fake'),
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    let reply: FakeReply;
    try {
      reply = this.handle(request);
    } catch (e) {
      reply = { status: 500, json: { message: e instanceof Error ? e.message : String(e) } };
    }
    if (reply.drop) {
      res.socket?.destroy();
      return;
    }
    const headers: Record<string, string> = { ...reply.headers };
    let body = '';
    if (reply.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(reply.json);
    } else if (reply.text !== undefined) {
      headers['content-type'] = 'text/plain';
      body = reply.text;
    }
    res.writeHead(reply.status, headers);
    res.end(body);
  }
}

/** A path matched against a pattern with `:name` segments. */
export function route(path: string, pattern: string): Record<string, string> | null {
  const a = path.split('/').filter(Boolean);
  const b = pattern.split('/').filter(Boolean);
  if (a.length !== b.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < b.length; i++) {
    if (b[i]!.startsWith(':')) params[b[i]!.slice(1)] = decodeURIComponent(a[i]!);
    else if (a[i] !== b[i]) return null;
  }
  return params;
}
