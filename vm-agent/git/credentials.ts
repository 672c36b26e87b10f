/**
 * Git credentials that never touch argv, logs or `.git/config`. Two ways: a workspace's
 * {@link GitCredentialHelper} (git asks the vm-agent over a private socket whenever it needs a
 * token: the GitHub way, tokens minted per task and replaced when they expire), or a fixed token
 * through a tiny askpass script (which holds no secret) reading an environment variable that only
 * this git process gets. Either way `-c credential.helper=` first clears every configured helper,
 * so no helper can store the token on disk.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type GitCredentialHelper, SOCKET_ENV } from './credential-server.ts';

export type GitCredentials = { token: string; username?: string };

export type CredentialSetup = {
  /** Arguments to put before the git subcommand. */
  args: string[];
  env: Record<string, string>;
  secrets: string[];
  dispose(): Promise<void>;
};

const ASKPASS = `#!/bin/sh
case "$1" in
  Username*|username*) printf '%s\\n' "$SAM_GIT_USERNAME" ;;
  *) printf '%s\\n' "$SAM_GIT_TOKEN" ;;
esac
`;

export async function credentialSetup(
  credentials: GitCredentials | null | undefined,
  helper?: GitCredentialHelper | null,
): Promise<CredentialSetup> {
  if (helper) {
    return {
      args: [
        '-c',
        'credential.helper=',
        '-c',
        `credential.helper=${helper.helperPath}`,
        '-c',
        'credential.useHttpPath=true',
        '-c',
        'core.askPass=',
      ],
      env: { [SOCKET_ENV]: helper.socketPath },
      // The helper's live list: tokens handed out during this run are redacted too.
      secrets: helper.secrets,
      dispose: async () => {},
    };
  }
  // Without credentials, still clear helpers so nothing prompts or reads a stored secret.
  if (!credentials) return { args: ['-c', 'credential.helper='], env: {}, secrets: [], dispose: async () => {} };
  const dir = await mkdtemp(path.join(tmpdir(), 'sam-askpass-'));
  const script = path.join(dir, 'askpass.sh');
  await writeFile(script, ASKPASS, { mode: 0o700 });
  return {
    args: ['-c', 'credential.helper=', '-c', 'core.askPass='],
    env: {
      GIT_ASKPASS: script,
      SAM_GIT_TOKEN: credentials.token,
      SAM_GIT_USERNAME: credentials.username ?? 'x-access-token',
    },
    secrets: [credentials.token],
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Refuses URLs with credentials in them: they would end up in `.git/config` and in argv. */
export function assertNoUrlCredentials(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return; // a local path or scp-like address
  }
  if (parsed.username || parsed.password) {
    throw new Error('repository URL must not contain credentials; pass the token separately');
  }
}
