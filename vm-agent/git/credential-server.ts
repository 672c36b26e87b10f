/**
 * git's credential helper for a workspace, with no secret of its own. The vm-agent serves a Unix
 * socket in a private (0700) directory; git runs the helper script there (`credential.helper`,
 * with `credential.useHttpPath` so the repository path is part of the question); on `get` the
 * script asks the socket, and the vm-agent answers from its source (the control plane's
 * `git-token`, with the workspace token it holds in memory). The token goes socket → helper
 * stdout → git: never argv, environment, `.git/config` or `~/.git-credentials`; `store` and
 * `erase` keep nothing. Git asks again on every run, so an expired token is replaced by the next
 * one the source hands out.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export type CredentialQuestion = { protocol: string; host: string; path: string };
export type CredentialAnswer = { username?: string; token: string };
/** Answers git's `get`; throws (with words for the git log) when there is no token for it. */
export type CredentialSource = (question: CredentialQuestion) => Promise<CredentialAnswer>;

export type GitCredentialHelper = {
  /** The executable git runs (`credential.helper`). */
  helperPath: string;
  /** Given to git (and so to the helper) as `SAM_GIT_CREDENTIAL_SOCKET`: an address, not a secret. */
  socketPath: string;
  /** Every token handed out so far (live array): run-git redacts them from what it logs. */
  secrets: string[];
  close(): Promise<void>;
};

export const SOCKET_ENV = 'SAM_GIT_CREDENTIAL_SOCKET';

/** The helper (run by node): reads git's request from stdin, asks the socket, prints the answer. */
const HELPER = `import { connect } from 'node:net';
const op = process.argv[2];
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => (input += d));
process.stdin.on('end', () => {
  if (op !== 'get') return;
  const fields = {};
  for (const line of input.split('\\n')) {
    const i = line.indexOf('=');
    if (i > 0) fields[line.slice(0, i)] = line.slice(i + 1);
  }
  const socket = connect(process.env.${SOCKET_ENV} ?? '');
  let answer = '';
  socket.setEncoding('utf8');
  socket.setTimeout(60000, () => socket.destroy(new Error('no answer within 60 s')));
  socket.on('data', (d) => (answer += d));
  socket.on('error', (e) => process.stderr.write('sam credential helper: ' + e.message + '\\n'));
  socket.on('end', () => {
    let r;
    try { r = JSON.parse(answer); } catch { r = { error: 'the vm-agent gave no answer' }; }
    if (r.error) return void process.stderr.write('sam credential helper: ' + r.error + '\\n');
    process.stdout.write('username=' + r.username + '\\npassword=' + r.password + '\\n');
  });
  socket.end(JSON.stringify({ protocol: fields.protocol ?? '', host: fields.host ?? '', path: fields.path ?? '' }) + '\\n');
});
`;

const MAX_QUESTION_BYTES = 4096;

/** Starts the socket and writes the helper next to it, in a fresh 0700 directory. */
export async function startCredentialHelper(
  source: CredentialSource,
  baseDir = tmpdir(),
): Promise<GitCredentialHelper> {
  const dir = await mkdtemp(path.join(baseDir, 'sam-git-cred-'));
  await chmod(dir, 0o700);
  const socketPath = path.join(dir, 'socket');
  const script = path.join(dir, 'helper.mjs');
  const helperPath = path.join(dir, 'git-credential-sam');
  await writeFile(script, HELPER, { mode: 0o500 });
  await writeFile(helperPath, `#!/bin/sh\nexec '${process.execPath}' '${script}' "$@"\n`, { mode: 0o500 });
  const secrets: string[] = [];
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => void answer(socket, source, secrets));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  return {
    helperPath,
    socketPath,
    secrets,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function answer(socket: Socket, source: CredentialSource, secrets: string[]): Promise<void> {
  socket.on('error', () => {});
  let text = '';
  socket.setEncoding('utf8');
  const question = await new Promise<string | null>((resolve) => {
    socket.on('data', (d: string) => {
      text += d;
      if (text.length > MAX_QUESTION_BYTES) resolve(null);
    });
    socket.on('end', () => resolve(text));
    socket.on('close', () => resolve(null));
  });
  let reply: { username: string; password: string } | { error: string };
  try {
    const q = question === null ? null : (JSON.parse(question) as Partial<CredentialQuestion>);
    if (!q || typeof q.host !== 'string' || !q.host) throw new Error('git asked without a host');
    const got = await source({ protocol: String(q.protocol ?? ''), host: q.host, path: String(q.path ?? '') });
    if (!secrets.includes(got.token)) secrets.push(got.token);
    reply = { username: got.username ?? 'x-access-token', password: got.token };
  } catch (e) {
    reply = { error: (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').slice(0, 500) };
  }
  if (!socket.destroyed) socket.end(`${JSON.stringify(reply)}\n`);
}
