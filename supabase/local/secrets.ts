import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { paths } from './paths.ts';

/**
 * Secrets of the local stack, generated once per checkout and kept in `.sam/secrets.json`
 * (mode 0600, git-ignored). Other modules add their own keys through `ensureSecret`.
 */
export type Secrets = Record<string, string>;

function load(): Secrets {
  if (!existsSync(paths.secrets)) return {};
  return JSON.parse(readFileSync(paths.secrets, 'utf8')) as Secrets;
}

function save(secrets: Secrets): void {
  mkdirSync(dirname(paths.secrets), { recursive: true });
  writeFileSync(paths.secrets, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
}

/** Returns the secret named `name`, creating it with `make` the first time it is asked for. */
export function ensureSecret(name: string, make: () => string = () => randomBytes(24).toString('base64url')): string {
  const secrets = load();
  const existing = secrets[name];
  if (existing !== undefined) return existing;
  const value = make();
  save({ ...secrets, [name]: value });
  return value;
}
