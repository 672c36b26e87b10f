/**
 * Runs the real `git` CLI with an argument array (no shell), a minimal environment, no terminal
 * prompts, and secrets redacted from everything that is logged or thrown. Every invocation has a
 * deadline (network operations longer, local ones short) and git's HTTP low-speed abort; git runs
 * in its own process group, and on timeout the whole group (remote helpers, ssh, …) is killed.
 * The protocols git may speak are pinned on every invocation (see policy.ts).
 */
import { spawn } from 'node:child_process';
import { protocolConfig, type GitProtocol } from './policy.ts';

export type GitLog = (line: string) => void;

export type RunGitOptions = {
  cwd?: string;
  /** Extra environment for this git process (e.g. the askpass settings). */
  env?: Record<string, string>;
  /** Values that must never appear in logs or errors. */
  secrets?: string[];
  log?: GitLog;
  /** Observes exactly what is spawned (program, argv, env) — for audits and tests. */
  onSpawn?: (spawned: { file: string; args: string[]; env: Record<string, string> }) => void;
  /** The protocols git may use (default https only). */
  protocols?: readonly GitProtocol[];
  /** Deadlines per kind of operation (default {@link DEFAULT_GIT_TIMEOUTS}). */
  timeouts?: Partial<GitTimeouts>;
};

export type GitTimeouts = {
  /** clone, fetch, pull, push, ls-remote: they talk to a remote. */
  networkMs: number;
  /** Everything else (status, commit, checkout, …). */
  localMs: number;
};

export const DEFAULT_GIT_TIMEOUTS: GitTimeouts = { networkMs: 15 * 60_000, localMs: 2 * 60_000 };

/** git aborts an HTTP transfer slower than this many bytes/s for this many seconds. */
export const LOW_SPEED = { limitBytes: 1000, seconds: 60 };

const NETWORK_OPERATIONS = new Set(['clone', 'fetch', 'pull', 'push', 'ls-remote', 'submodule', 'remote']);

export type GitResult = { stdout: string; stderr: string; code: number };

export class GitError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly stderr: string,
    readonly timedOut = false,
  ) {
    super(message);
    this.name = 'GitError';
  }
}

export function redact(text: string, secrets: string[] = []): string {
  let out = text;
  for (const secret of secrets) if (secret) out = out.split(secret).join('***');
  // Credentials embedded in URLs, whatever their source.
  return out.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, '$1***@');
}

/** The environment git runs with: enough to work, nothing inherited that could leak or prompt. */
export function gitEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'LANG', 'TMPDIR', 'USER']) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return {
    ...env,
    LC_ALL: 'C',
    GIT_TERMINAL_PROMPT: '0',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_HTTP_LOW_SPEED_LIMIT: String(LOW_SPEED.limitBytes),
    GIT_HTTP_LOW_SPEED_TIME: String(LOW_SPEED.seconds),
    ...extra,
  };
}

/** The git subcommand of `args` (after leading `-c name=value` pairs). */
export function gitOperation(args: string[]): string {
  return withoutConfig(args)[0] ?? '';
}

export function timeoutFor(args: string[], timeouts: Partial<GitTimeouts> = {}): number {
  const t = { ...DEFAULT_GIT_TIMEOUTS, ...timeouts };
  return NETWORK_OPERATIONS.has(gitOperation(args)) ? t.networkMs : t.localMs;
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export function runGit(args: string[], options: RunGitOptions = {}): Promise<GitResult> {
  // The pinned protocols come last: nothing a caller passes can widen them.
  const env = { ...gitEnv(options.env), ...protocolConfig(options.protocols ?? ['https']) };
  const secrets = options.secrets ?? [];
  const timeoutMs = timeoutFor(args, options.timeouts);
  const operation = redact(`git ${gitOperation(args)}`, secrets);
  options.onSpawn?.({ file: 'git', args: [...args], env: { ...env } });
  options.log?.(redact(`$ git ${args.join(' ')}`, secrets));
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout takes git's helpers (git-remote-https, ssh) with it.
    const child = spawn('git', args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      options.log?.(`  ${operation} timed out after ${timeoutMs} ms; killing it`);
      killGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new GitError(redact(error.message, secrets), -1, ''));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const clean = redact(stderr.trim(), secrets);
      if (clean) for (const line of clean.split('\n')) options.log?.(`  ${line}`);
      if (timedOut) {
        reject(
          new GitError(
            `${operation} timed out after ${Math.round(timeoutMs / 100) / 10} s and was stopped` +
              (clean ? `: ${clean}` : ''),
            -1,
            clean,
            true,
          ),
        );
        return;
      }
      resolve({ stdout, stderr: clean, code: code ?? -1 });
    });
  });
}

/** Like {@link runGit}, but a non-zero exit is a {@link GitError} with the (redacted) stderr. */
export async function git(args: string[], options: RunGitOptions = {}): Promise<string> {
  const result = await runGit(args, options);
  if (result.code !== 0) {
    const what = redact(`git ${withoutConfig(args).slice(0, 2).join(' ')}`, options.secrets);
    throw new GitError(`${what} failed (exit ${result.code}): ${result.stderr}`, result.code, result.stderr);
  }
  return result.stdout.trim();
}

/** `args` without leading `-c name=value` pairs: the subcommand and its arguments. */
function withoutConfig(args: string[]): string[] {
  let i = 0;
  while (args[i] === '-c') i += 2;
  return args.slice(i);
}
