import type { IncomingMessage, ServerResponse } from 'node:http';
import type postgres from 'postgres';
import type { GitHubProviderConfig } from '../service.ts';
import type { Mailbox } from './mailer.ts';
import type { TokenConfig } from './sessions.ts';

/** What every Auth endpoint works with. */
export interface AuthContext {
  /** Connection pool as `supabase_auth_admin`. */
  sql: postgres.Sql;
  tokens: TokenConfig;
  mailbox: Mailbox;
  /** Require email confirmation before sign-in (hosted default). */
  emailConfirmation: boolean;
  /** Where confirmation links land when no (or no allowed) `redirect_to` is given. */
  siteUrl: string;
  /** The gateway's URL (`SUPABASE_URL`): the default OAuth callback is below it. */
  apiUrl: string;
  /** The GitHub provider, when turned on. */
  github?: GitHubProviderConfig;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, url: URL, auth: AuthContext) => Promise<void>;
