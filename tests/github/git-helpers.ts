/**
 * Running real git against the fake GitHub with an installation token handed over by `GIT_ASKPASS`
 * (never in argv or a URL), with no user or system configuration.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A scratch HOME with an askpass script that answers from the environment. */
export function gitHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'gh-git-'));
  const askpass = join(home, 'askpass.sh');
  writeFileSync(
    askpass,
    '#!/bin/sh\ncase "$1" in Username*) printf "%s\\n" x-access-token;; *) printf "%s\\n" "$SAM_TEST_GIT_TOKEN";; esac\n',
  );
  chmodSync(askpass, 0o700);
  return home;
}

export function git(home: string, cwd: string, args: string[], token?: string): Promise<GitResult> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Agent',
    GIT_AUTHOR_EMAIL: 'agent@example.invalid',
    GIT_COMMITTER_NAME: 'Agent',
    GIT_COMMITTER_EMAIL: 'agent@example.invalid',
  };
  if (token !== undefined) {
    env.GIT_ASKPASS = join(home, 'askpass.sh');
    env.SAM_TEST_GIT_TOKEN = token;
  }
  return new Promise((resolve) => {
    execFile('git', args, { cwd, env }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
