import { readFileSync } from 'node:fs';
import { parse } from 'smol-toml';
import { paths } from './paths.ts';
import type { GitHubProviderConfig } from './service.ts';

/** What the local stack reads from supabase/config.toml (the same file the Supabase CLI reads). */
export interface ProjectConfig {
  apiPort: number;
  dbPort: number;
  jwtExpiry: number;
  emailConfirmation: boolean;
  /** Where the web chat is served: the port of [auth] site_url (Auth's redirects point there). */
  webPort: number;
  /** `[auth.external.github]` when enabled with a client id and secret. */
  authGitHub?: GitHubProviderConfig;
}

type Table = Record<string, unknown>;

function table(value: unknown): Table {
  return value !== null && typeof value === 'object' ? (value as Table) : {};
}

export function readProjectConfig(file = paths.configToml): ProjectConfig {
  const doc = parse(readFileSync(file, 'utf8'));
  const auth = table(doc.auth);
  const email = table(auth.email);
  const github = table(table(auth.external).github);
  const secretRef = /^env\(([A-Za-z_][A-Za-z0-9_]*)\)$/.exec(String(github.secret ?? ''));
  const secret = secretRef ? process.env[secretRef[1]!] : (github.secret as string | undefined);
  const ghUrl = typeof github.url === 'string' && github.url ? github.url.replace(/\/+$/, '') : null;
  const authGitHub =
    github.enabled === true && typeof github.client_id === 'string' && github.client_id && secret
      ? {
          clientId: github.client_id,
          secret,
          // GitHub Enterprise (GoTrue's `url`): the API lives under /api/v3 there.
          url: ghUrl ?? 'https://github.com',
          apiUrl: ghUrl ? `${ghUrl}/api/v3` : 'https://api.github.com',
          ...(typeof github.redirect_uri === 'string' && github.redirect_uri
            ? { redirectUri: github.redirect_uri }
            : {}),
        }
      : undefined;
  return {
    authGitHub,
    apiPort: Number(table(doc.api).port ?? 54321),
    dbPort: Number(table(doc.db).port ?? 54322),
    jwtExpiry: Number(auth.jwt_expiry ?? 3600),
    webPort: Number(new URL(String(auth.site_url ?? 'http://127.0.0.1:5173')).port || 80),
    // Hosted default is on; a project that turns it off says so in config.toml.
    emailConfirmation: email.enable_confirmations === undefined ? true : Boolean(email.enable_confirmations),
  };
}
