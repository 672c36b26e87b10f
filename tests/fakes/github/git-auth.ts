/**
 * The git side of the fake: smart HTTP through the real `git http-backend`, guarded like GitHub.
 * Only Basic auth `x-access-token:<installation token>` counts. No or bad credentials → 401 with
 * `WWW-Authenticate: Basic realm="GitHub"` (git only sends credentials after such a challenge); a
 * token that cannot see the repository → 404 "Repository not found."; a push without
 * `contents: write` → 403.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { serveGitHttpBackend } from './git-backend.ts';
import type { FakeGitHub } from './server.ts';

export const GIT_BAD_CREDENTIALS =
  'Invalid username or token. Password authentication is not supported for Git operations.';
export const GIT_NOT_FOUND = 'Repository not found.';

function refuse(res: ServerResponse, status: number, text: string, challenge: boolean): void {
  const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' };
  if (challenge) headers['www-authenticate'] = 'Basic realm="GitHub"';
  res.writeHead(status, headers);
  res.end(`${text}\n`);
}

/** The token of a `Basic base64(x-access-token:TOKEN)` header, else undefined. */
function basicToken(header: string | undefined): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = decoded.indexOf(':');
  if (i < 0 || decoded.slice(0, i) !== 'x-access-token') return undefined;
  return decoded.slice(i + 1);
}

export function handleGit(fake: FakeGitHub, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const m = /^\/([^/]+)\/([^/]+)\.git(\/.*)$/.exec(url.pathname)!;
  const [owner, name, rest] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), m[3]!];
  const push = url.searchParams.get('service') === 'git-receive-pack' || rest === '/git-receive-pack';
  const drain = () => req.resume();
  const repo = fake.findRepo(owner, name);
  const header = req.headers.authorization;
  if (!header) {
    if (repo && !repo.private && !push) return serve();
    drain();
    return refuse(res, 401, GIT_NOT_FOUND, true);
  }
  const secret = basicToken(header);
  const token = secret === undefined ? undefined : fake.liveToken(secret);
  if (!token) {
    drain();
    return refuse(res, 401, GIT_BAD_CREDENTIALS, true);
  }
  if (!repo || !fake.tokenReaches(token, repo)) {
    drain();
    return refuse(res, 404, GIT_NOT_FOUND, false);
  }
  const contents = token.permissions.contents;
  if (!contents || (push && contents !== 'write')) {
    drain();
    return refuse(
      res,
      403,
      `Permission to ${repo.owner.login}/${repo.name}.git denied to ${fake.app.slug}[bot].`,
      false,
    );
  }
  serve('x-access-token');

  function serve(remoteUser?: string): void {
    serveGitHttpBackend(req, res, {
      projectRoot: join(fake.root, 'git'),
      pathInfo: `/${repo!.owner.login}/${repo!.name}.git${rest}`,
      query: url.search.replace(/^\?/, ''),
      remoteUser,
    });
  }
}
