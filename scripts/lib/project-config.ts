import { readFileSync } from 'node:fs';
import { parse } from 'smol-toml';
import { paths } from './paths.ts';

/** What the local stack reads from supabase/config.toml (the same file the Supabase CLI reads). */
export interface ProjectConfig {
  apiPort: number;
  dbPort: number;
  jwtExpiry: number;
  emailConfirmation: boolean;
}

type Table = Record<string, unknown>;

function table(value: unknown): Table {
  return value !== null && typeof value === 'object' ? (value as Table) : {};
}

export function readProjectConfig(file = paths.configToml): ProjectConfig {
  const doc = parse(readFileSync(file, 'utf8'));
  const auth = table(doc.auth);
  const email = table(auth.email);
  return {
    apiPort: Number(table(doc.api).port ?? 54321),
    dbPort: Number(table(doc.db).port ?? 54322),
    jwtExpiry: Number(auth.jwt_expiry ?? 3600),
    // Hosted default is on; a project that turns it off says so in config.toml.
    emailConfirmation: email.enable_confirmations === undefined ? true : Boolean(email.enable_confirmations),
  };
}
