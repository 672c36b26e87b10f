/**
 * A CGI bridge from a Node request to the real `git http-backend` (smart HTTP), serving the bare
 * repositories under one project root. Authentication is the caller's job (see server.ts): this
 * only runs the CGI program and streams its answer back.
 */
import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';

export const GIT_HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export interface CgiRequest {
  projectRoot: string;
  /** `/{owner}/{repo}.git/info/refs` etc. */
  pathInfo: string;
  query: string;
  /** Set for authenticated requests; `git http-backend` enables receive-pack only then. */
  remoteUser?: string;
}

/** Runs `git http-backend` for one request and writes its answer to `res`. */
export function serveGitHttpBackend(req: IncomingMessage, res: ServerResponse, cgi: CgiRequest): void {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: cgi.projectRoot,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_PROJECT_ROOT: cgi.projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    PATH_INFO: cgi.pathInfo,
    QUERY_STRING: cgi.query,
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: String(req.headers['content-type'] ?? ''),
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
  };
  if (req.headers['content-length']) env.CONTENT_LENGTH = String(req.headers['content-length']);
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
  if (cgi.remoteUser) env.REMOTE_USER = cgi.remoteUser;

  const child = spawn(GIT_HTTP_BACKEND, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let head = Buffer.alloc(0);
  let headerDone = false;
  const stderr: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => stderr.push(d));
  child.stdin.on('error', () => {});
  req.pipe(child.stdin);

  child.stdout.on('data', (chunk: Buffer) => {
    if (headerDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const crlf = head.indexOf('\r\n\r\n');
    const lf = head.indexOf('\n\n');
    const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
    if (end < 0) return;
    const sep = end === crlf ? 4 : 2;
    headerDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const name = line.slice(0, i).trim();
      const value = line.slice(i + 1).trim();
      if (name.toLowerCase() === 'status') status = parseInt(value, 10) || 200;
      else res.setHeader(name, value);
    }
    res.statusCode = status;
    const rest = head.subarray(end + sep);
    if (rest.length > 0) res.write(rest);
  });
  child.on('close', (code) => {
    if (!headerDone) {
      res.statusCode = 500;
      res.setHeader('content-type', 'text/plain');
      res.end(`git http-backend failed (${code}): ${Buffer.concat(stderr).toString().slice(0, 500)}`);
      return;
    }
    res.end();
  });
  child.on('error', (e) => {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
    res.end(`git http-backend could not start: ${e.message}`);
  });
}
