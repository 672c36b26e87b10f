/**
 * The operator's one GitHub App, from function secrets:
 *
 *   GITHUB_APP_ID            the numeric App ID
 *   GITHUB_APP_CLIENT_ID     the App's client ID (`Iv23…`); the App JWT's issuer when set, as GitHub recommends
 *   GITHUB_APP_PRIVATE_KEY   the PEM GitHub hands out (PKCS#1, `BEGIN RSA PRIVATE KEY`; PKCS#8 works too);
 *                            `\n` escapes are turned into newlines, so the key fits on one line
 *   GITHUB_WEBHOOK_SECRET    the App's webhook secret (only the github-webhook function needs it)
 *   GITHUB_API_URL           the REST API (default https://api.github.com; GitHub Enterprise or a test fake)
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
