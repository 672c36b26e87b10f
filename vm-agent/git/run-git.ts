/**
 * Runs the real `git` CLI with an argument array (no shell), a minimal environment, no terminal
 * prompts, and secrets redacted from everything that is logged or thrown.
 */
import { spawn } from 'node:child_process';

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
};

export type GitResult = { stdout: string; stderr: string; code: number };

export class GitError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly stderr: string,
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
    ...extra,
  };
}

export function runGit(args: string[], options: RunGitOptions = {}): Promise<GitResult> {
  const env = gitEnv(options.env);
  const secrets = options.secrets ?? [];
  options.onSpawn?.({ file: 'git', args: [...args], env: { ...env } });
  options.log?.(redact(`$ git ${args.join(' ')}`, secrets));
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (t: string) => (stdout += t));
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.once('error', (error) => reject(new GitError(redact(error.message, secrets), -1, '')));
    child.once('close', (code) => {
      const clean = redact(stderr.trim(), secrets);
      if (clean) for (const line of clean.split('\n')) options.log?.(`  ${line}`);
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
