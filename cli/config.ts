/**
 * Where the CLI keeps its sign-in: one JSON file, mode 0600, in `$SAM_CONFIG_DIR`, else
 * `$XDG_CONFIG_HOME/sam`, else `~/.config/sam`. It holds the deployment (Supabase URL and
 * publishable key), the email and the current refresh token — never the password. Refresh tokens
 * rotate: every command that signs in writes the new one back.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { CliError } from './errors.ts';

export const StoredSession = z.object({
  /** The SAM deployment as the user named it (the web app's URL). */
  deployment: z.string().url(),
  supabaseUrl: z.string().url(),
  publishableKey: z.string().min(1),
  email: z.string(),
  userId: z.string(),
  refreshToken: z.string().min(1),
});
export type StoredSession = z.infer<typeof StoredSession>;

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SAM_CONFIG_DIR) return env.SAM_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'sam');
  return join(homedir(), '.config', 'sam');
}

export const sessionFile = (env?: NodeJS.ProcessEnv) => join(configDir(env), 'session.json');

export function readSession(env?: NodeJS.ProcessEnv): StoredSession {
  const file = sessionFile(env);
  if (!existsSync(file))
    throw new CliError('You are not signed in. Run: sam login <deployment-url> --email <you@example.com>');
  try {
    return StoredSession.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    throw new CliError(`${file} is unreadable. Run sam login again.`);
  }
}

/** Written to a 0600 temporary file first, then renamed: never readable by others, never half-written. */
export function writeSession(session: StoredSession, env?: NodeJS.ProcessEnv): void {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = sessionFile(env);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(session, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function clearSession(env?: NodeJS.ProcessEnv): boolean {
  const file = sessionFile(env);
  if (!existsSync(file)) return false;
  rmSync(file);
  return true;
}
