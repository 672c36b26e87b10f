import { readFileSync } from 'node:fs';
import { parse } from 'smol-toml';
import { paths } from './paths.ts';

/** What the local stack reads from supabase/config.toml (the same file the Supabase CLI reads). */
export interface ProjectConfig {
  apiPort: number;
  dbPort: number;
  jwtExpiry: number;
  emailConfirmation: boolean;
  /** Where the web chat is served: the port of [auth] site_url (Auth's redirects point there). */
  webPort: number;
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
    webPort: Number(new URL(String(auth.site_url ?? 'http://127.0.0.1:5173')).port || 80),
    // Hosted default is on; a project that turns it off says so in config.toml.
    emailConfirmation: email.enable_confirmations === undefined ? true : Boolean(email.enable_confirmations),
  };
}
