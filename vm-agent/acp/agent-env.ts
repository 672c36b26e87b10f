/**
 * The environment an agent process gets: an allow-list of harmless variables from the VM agent's
 * own environment plus the agent's explicit settings (its model API key, …). Platform secrets —
 * node/workspace/bootstrap tokens, Supabase keys, the git token, encryption keys — never pass,
 * even when asked for explicitly: the agent talks to SAM only through MCP with its own token.
 */

/** Variables copied from the parent environment when present. */
export const INHERITED_ENV = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TERM',
  'TZ',
  'TMPDIR',
  'XDG_CONFIG_HOME',
  'XDG_CACHE_HOME',
  'XDG_DATA_HOME',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
] as const;
const INHERITED_PREFIXES = ['LC_'];

/** Names that are platform secrets wherever they come from. */
const PLATFORM_SECRET_PATTERNS = [
  /^SAM_.*(TOKEN|KEY|SECRET|PASSWORD|CREDENTIAL)/i,
  /^SUPABASE_/i,
  /SERVICE_ROLE/i,
  /^(PG|POSTGRES_?)PASSWORD$/i,
  /^DATABASE_URL$/i,
  /^GIT_(TOKEN|PASSWORD|ASKPASS)$/i,
  /^(HCLOUD|HETZNER|SCW|SCALEWAY)_/i,
  /^GITHUB_APP_/i,
  /ENCRYPTION_KEY/i,
];

export function isPlatformSecretName(name: string): boolean {
  return PLATFORM_SECRET_PATTERNS.some((p) => p.test(name));
}

export class AgentEnvError extends Error {
  constructor(readonly names: string[]) {
    super(`refusing to pass platform secrets to the agent: ${names.join(', ')}`);
    this.name = 'AgentEnvError';
  }
}

/**
 * Builds the agent's environment. `extra` holds what the agent needs (model key, model name, SAM
 * non-secret context such as SAM_BRANCH); a platform-secret name in it is an error, not a drop,
 * so a misconfiguration shows up instead of silently starting an agent without its settings.
 */
export function buildAgentEnv(parent: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    const allowed =
      (INHERITED_ENV as readonly string[]).includes(name) || INHERITED_PREFIXES.some((p) => name.startsWith(p));
    if (allowed && !isPlatformSecretName(name)) env[name] = value;
  }
  const refused = Object.keys(extra).filter(isPlatformSecretName);
  if (refused.length > 0) throw new AgentEnvError(refused);
  return { ...env, ...extra };
}
