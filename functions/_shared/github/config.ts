/**
 * The operator's one GitHub App, from function secrets:
 *
 *   GITHUB_APP_ID             the numeric App ID
 *   GITHUB_APP_CLIENT_ID      the App's client ID (`Iv23…`); the App JWT's issuer when set, as GitHub recommends
 *   GITHUB_APP_PRIVATE_KEY    the PEM GitHub hands out (PKCS#1, `BEGIN RSA PRIVATE KEY`; PKCS#8 works too);
 *                             `\n` escapes are turned into newlines, so the key fits on one line
 *   GITHUB_WEBHOOK_SECRET     the App's webhook secret (only the github-webhook function needs it)
 *   GITHUB_API_URL            the REST API (default https://api.github.com; GitHub Enterprise or a test fake)
 *
 * Linking (the `github` function) also needs:
 *
 *   GITHUB_APP_SLUG           the App's URL name (its install page is `<web>/apps/<slug>/installations/new`)
 *   GITHUB_APP_CLIENT_SECRET  the App's OAuth client secret (to exchange an OAuth code for the user's token)
 *   GITHUB_WEB_URL            GitHub's web origin (default https://github.com)
 *
 * No App ID or no key: GitHub is not configured (null), and what needs it says so in words.
 */
import { GitHubApp } from './app.ts';
import { DEFAULT_API_URL } from './rest.ts';

export interface GitHubAppSettings {
  appId: string;
  /** The JWT's `iss`: the client ID when given, else the App ID. */
  issuer: string;
  privateKey: string;
  webhookSecret: string | null;
  apiUrl: string;
}

export function githubAppSettings(get: (name: string) => string | undefined): GitHubAppSettings | null {
  const appId = get('GITHUB_APP_ID')?.trim();
  const rawKey = get('GITHUB_APP_PRIVATE_KEY');
  if (!appId || !rawKey?.trim()) return null;
  const clientId = get('GITHUB_APP_CLIENT_ID')?.trim();
  return {
    appId,
    issuer: clientId || appId,
    privateKey: rawKey.includes('\\n') ? rawKey.replace(/\\n/g, '\n') : rawKey,
    webhookSecret: get('GITHUB_WEBHOOK_SECRET') || null,
    apiUrl: get('GITHUB_API_URL')?.trim() || DEFAULT_API_URL,
  };
}

/** The App client for the settings, or null when GitHub is not configured. */
export function githubAppFrom(get: (name: string) => string | undefined): GitHubApp | null {
  const s = githubAppSettings(get);
  return s ? new GitHubApp({ appId: s.issuer, privateKey: s.privateKey, apiUrl: s.apiUrl }) : null;
}

/** What linking needs beyond the App itself. */
export interface GitHubConfig {
  appId: string;
  slug: string;
  clientId: string;
  clientSecret: string;
  privateKey: string;
  apiUrl: string;
  webUrl: string;
}

/**
 * The settings the `github` function needs, or null when GitHub is not configured. A configured App
 * without the linking settings is an operator error, said at start-up.
 */
export function githubConfigFrom(get: (name: string) => string | undefined): GitHubConfig | null {
  const app = githubAppSettings(get);
  if (!app) return null;
  const missing = ['GITHUB_APP_SLUG', 'GITHUB_APP_CLIENT_ID', 'GITHUB_APP_CLIENT_SECRET'].filter((n) => !get(n));
  if (missing.length > 0) throw new Error(`GitHub linking needs ${missing.join(', ')} as function secrets`);
  return {
    appId: app.issuer,
    slug: get('GITHUB_APP_SLUG')!.trim(),
    clientId: get('GITHUB_APP_CLIENT_ID')!.trim(),
    clientSecret: get('GITHUB_APP_CLIENT_SECRET')!,
    privateKey: app.privateKey,
    apiUrl: app.apiUrl,
    webUrl: (get('GITHUB_WEB_URL')?.trim() || 'https://github.com').replace(/\/+$/, ''),
  };
}
