/**
 * The operator's GitHub App, from function secrets. GitHub is optional: without `SAM_GITHUB_APP_ID`
 * the functions answer that it is not configured.
 *
 *   SAM_GITHUB_APP_ID          numeric App ID (or its client ID) — the JWT issuer
 *   SAM_GITHUB_APP_SLUG        the App's URL name (install page `…/apps/<slug>/installations/new`)
 *   SAM_GITHUB_CLIENT_ID       the App's OAuth client ID
 *   SAM_GITHUB_CLIENT_SECRET   the App's OAuth client secret (code exchange)
 *   SAM_GITHUB_PRIVATE_KEY     the App's private key, PEM (PKCS#1 as downloaded, or PKCS#8)
 *   SAM_GITHUB_API_URL         default https://api.github.com
 *   SAM_GITHUB_WEB_URL         default https://github.com
 */
import { env } from '../env.ts';
import { DEFAULT_API_URL } from './rest.ts';

export interface GitHubConfig {
  appId: string;
  slug: string;
  clientId: string;
  clientSecret: string;
  privateKey: string;
  apiUrl: string;
  webUrl: string;
}

const REQUIRED = [
  'SAM_GITHUB_APP_ID',
  'SAM_GITHUB_APP_SLUG',
  'SAM_GITHUB_CLIENT_ID',
  'SAM_GITHUB_CLIENT_SECRET',
  'SAM_GITHUB_PRIVATE_KEY',
] as const;

/** The App's settings, or null when the operator has not configured GitHub (no App ID). */
export function githubConfigFromEnv(read: (name: string) => string | undefined = env): GitHubConfig | null {
  if (!read('SAM_GITHUB_APP_ID')) return null;
  const missing = REQUIRED.filter((n) => !read(n));
  if (missing.length > 0) throw new Error(`GitHub is half configured: ${missing.join(', ')} not set`);
  return {
    appId: read('SAM_GITHUB_APP_ID')!,
    slug: read('SAM_GITHUB_APP_SLUG')!,
    clientId: read('SAM_GITHUB_CLIENT_ID')!,
    clientSecret: read('SAM_GITHUB_CLIENT_SECRET')!,
    // Secrets set from a shell often carry the PEM's newlines as `\n`.
    privateKey: read('SAM_GITHUB_PRIVATE_KEY')!.replace(/\\n/g, '\n'),
    apiUrl: read('SAM_GITHUB_API_URL') || DEFAULT_API_URL,
    webUrl: (read('SAM_GITHUB_WEB_URL') || 'https://github.com').replace(/\/+$/, ''),
  };
}
