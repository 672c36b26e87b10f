/**
 * The CLI's Supabase client: found from a deployment URL (the web app's `/config.json`), signed in
 * with the stored refresh token, which is written back whenever Auth rotates it.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { readSession, writeSession, type StoredSession } from './config.ts';
import { CliError } from './errors.ts';

export interface Deployment {
  deployment: string;
  supabaseUrl: string;
  publishableKey: string;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/**
 * Where a deployment's Supabase is: its web app serves `/config.json` (as `sam start` and hosted
 * builds do); with `--key`, the URL is taken to be the Supabase URL itself.
 */
export async function findDeployment(url: string, key?: string): Promise<Deployment> {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new CliError(
      `"${url}" is not a URL. Give the address of your SAM deployment, e.g. https://sam.example.com`,
      2,
    );
  }
  const deployment = trimSlash(base.toString());
  if (key) return { deployment, supabaseUrl: deployment, publishableKey: key };
  let res: Response;
  try {
    res = await fetch(`${deployment}/config.json`, { signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw new CliError(`Cannot reach ${deployment}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const body = (res.ok ? await res.json().catch(() => null) : null) as {
    supabaseUrl?: unknown;
    publishableKey?: unknown;
  } | null;
  if (typeof body?.supabaseUrl !== 'string' || typeof body.publishableKey !== 'string') {
    throw new CliError(
      `${deployment} does not look like a SAM deployment (no /config.json). ` +
        'Give the web app’s address, or the Supabase URL with --key <publishable key>.',
    );
  }
  return { deployment, supabaseUrl: trimSlash(body.supabaseUrl), publishableKey: body.publishableKey };
}

export function newClient(d: Pick<Deployment, 'supabaseUrl' | 'publishableKey'>): SupabaseClient {
  return createClient(d.supabaseUrl, d.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    // Node 20 has no WebSocket of its own; Realtime gets the `ws` package's.
    realtime: { transport: (globalThis.WebSocket ?? WebSocket) as never },
  });
}

export interface SignedIn {
  client: SupabaseClient;
  session: StoredSession;
  /** Stops token refreshes and Realtime, so the process can exit. */
  close(): Promise<void>;
}

/** A client signed in as the stored user; every refresh token Auth hands out replaces the stored one. */
export async function signedIn(env: NodeJS.ProcessEnv = process.env): Promise<SignedIn> {
  const stored = readSession(env);
  const client = newClient(stored);
  const { data, error } = await client.auth.refreshSession({ refresh_token: stored.refreshToken });
  if (error || !data.session) {
    const why = error?.message ? ` (${error.message})` : '';
    throw new CliError(`Your sign-in to ${stored.deployment} has expired or was revoked${why}. Run sam login again.`);
  }
  let current: StoredSession = { ...stored, refreshToken: data.session.refresh_token };
  writeSession(current, env);
  const { data: listener } = client.auth.onAuthStateChange((_event, session) => {
    if (session?.refresh_token && session.refresh_token !== current.refreshToken) {
      current = { ...current, refreshToken: session.refresh_token };
      writeSession(current, env);
    }
  });
  return {
    client,
    get session() {
      return current;
    },
    async close() {
      listener.subscription.unsubscribe();
      await client.auth.stopAutoRefresh();
      await client.removeAllChannels();
      client.realtime.disconnect();
    },
  };
}
