import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LocalKeys } from './keys.ts';

/** What every service of the local stand-in gets from the stack. */
export interface StackContext {
  /** The gateway's public base URL, e.g. http://127.0.0.1:54321 */
  url: string;
  keys: LocalKeys;
  /** A connection URL to the stack's database as `role` (passwords from `.sam/secrets.json`). */
  databaseUrl(role: string): string;
  /** The database name the stack serves. */
  database: string;
  /** Directory for this stack's logs and runtime files. */
  runtimeDir: string;
  /** Settings from supabase/config.toml and options, already resolved. */
  options: StackOptions;
}

export interface StackOptions {
  port: number;
  /** Auth: require email confirmation before sign-in (hosted default true). */
  emailConfirmation: boolean;
  /** Functions: restart a function's Deno process when its files change. */
  watchFunctions: boolean;
  /** Access token lifetime in seconds (config.toml [auth] jwt_expiry). */
  jwtExpiry: number;
  /** Auth's GitHub provider (config.toml [auth.external.github]); absent: turned off. */
  authGitHub?: GitHubProviderConfig;
}

/** `[auth.external.github]`: the OAuth client (the GitHub App's) and where GitHub lives. */
export interface GitHubProviderConfig {
  clientId: string;
  secret: string;
  /** GitHub's web origin (`https://github.com`, or a fake's): `/login/oauth/…` live there. */
  url: string;
  /** GitHub's REST API (`https://api.github.com`, or a fake's). */
  apiUrl: string;
  /** The callback GitHub sends the browser back to (default `<SUPABASE_URL>/auth/v1/callback`). */
  redirectUri?: string;
}

/**
 * One Supabase service behind the gateway. `handle` receives requests whose path starts with the
 * service's prefix (e.g. `/auth/v1`), after the gateway translated API keys (gateway.ts).
 */
export interface Service {
  name: string;
  /** The path prefix routed to this service; null for background workers (the pg_net worker). */
  prefix: string | null;
  handle?(req: IncomingMessage, res: ServerResponse): void | Promise<void>;
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Resolves true when the service answers. */
  health(): Promise<boolean>;
  close(): Promise<void>;
}

/** Builds a service from the stack context. Each service module exports one. */
export type ServiceFactory = (ctx: StackContext) => Promise<Service>;
