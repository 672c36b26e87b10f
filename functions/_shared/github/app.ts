/**
 * The GitHub App client: the App JWT, installation access tokens (scoped to repository ids, cached
 * and refreshed before they expire), the installations a user may link, and the repositories of an
 * installation. fetch + WebCrypto + jose only, so it runs in the edge functions and in Node.
 */
import { SignJWT } from 'jose';
import { GitHubError } from './errors.ts';
import { importAppKey } from './keys.ts';
import { Rest, type RestOptions } from './rest.ts';
import {
  type GitHubInstallation,
  type GitHubRepository,
  toInstallation,
  toRepository,
  type WireInstallation,
  type WireRepository,
} from './types.ts';

export type Permissions = Record<string, 'read' | 'write'>;

/** What a task's workspace gets: push the branch, open the PR, read metadata. Nothing else. */
export const TASK_PERMISSIONS: Permissions = { contents: 'write', pull_requests: 'write', metadata: 'read' };

/** Enough to list and look up repositories. */
const METADATA_ONLY: Permissions = { metadata: 'read' };

export interface GitHubAppConfig extends RestOptions {
  /** The numeric App ID or the App's client ID (GitHub recommends the client ID as `iss`). */
  appId: string | number;
  /** The App's private key, PEM PKCS#1 as GitHub gives it, or PKCS#8. */
  privateKey: string;
  /** A cached token is replaced once it has less than this left (default 5 minutes). */
  refreshMarginMs?: number;
}

export interface InstallationToken {
  token: string;
  /** Epoch ms. */
  expiresAt: number;
  permissions: Record<string, string>;
  /** The repositories the token is limited to; empty when GitHub did not list them. */
  repositoryIds: number[];
}

interface WireToken {
  token: string;
  expires_at: string;
  permissions?: Record<string, string>;
  repositories?: { id: number }[];
}

/** JWT lifetime: GitHub refuses `exp` more than 10 minutes ahead of its clock; leave a minute for skew. */
const JWT_LIFETIME_S = 540;
/** `iat` in the past by a minute, as GitHub recommends against clock drift. */
const JWT_BACKDATE_S = 60;
const DEFAULT_MARGIN_MS = 5 * 60_000;

export class GitHubApp {
  readonly rest: Rest;
  private readonly issuer: string;
  private readonly margin: number;
  private key: Promise<CryptoKey> | undefined;
  /** Added to our clock for JWT times once GitHub said our clock is off (see mintInstallationToken). */
  private clockOffsetMs = 0;
  private readonly tokens = new Map<string, { token?: InstallationToken; pending?: Promise<InstallationToken> }>();

  constructor(private readonly config: GitHubAppConfig) {
    this.rest = new Rest(config);
    this.issuer = String(config.appId);
    this.margin = config.refreshMarginMs ?? DEFAULT_MARGIN_MS;
  }

  /** A fresh App JWT (RS256, `iat` a minute back, `exp` nine minutes ahead, `iss` the App). */
  async appJwt(): Promise<string> {
    this.key ??= importAppKey(this.config.privateKey);
    const key = await this.key.catch((e) => {
      this.key = undefined;
      throw new GitHubError(0, 'permanent', (e as Error).message);
    });
    const now = Math.floor((this.rest.now() + this.clockOffsetMs) / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setIssuedAt(now - JWT_BACKDATE_S)
      .setExpirationTime(now + JWT_LIFETIME_S)
      .setIssuer(this.issuer)
      .sign(key);
  }

  /** Mints a new installation token (no cache). */
  async mintInstallationToken(
    installationId: number,
    scope: { repositoryIds?: number[]; permissions?: Permissions } = {},
  ): Promise<InstallationToken> {
    const body: Record<string, unknown> = {};
    if (scope.repositoryIds) body.repository_ids = scope.repositoryIds;
    if (scope.permissions) body.permissions = scope.permissions;
    const path = `/app/installations/${encodeURIComponent(installationId)}/access_tokens`;
    let answer;
    try {
      answer = await this.rest.request<WireToken>('POST', path, { token: await this.appJwt(), body });
    } catch (e) {
      // A JWT refused for its times means the clocks disagree: retry once on GitHub's (its Date header).
      const skewed = e instanceof GitHubError && e.status === 401 && /claim \('(exp|iat)'\)/.test(e.message);
      if (!skewed || Math.abs(this.rest.serverOffsetMs - this.clockOffsetMs) < 1000) throw e;
      this.clockOffsetMs = this.rest.serverOffsetMs;
      answer = await this.rest.request<WireToken>('POST', path, { token: await this.appJwt(), body });
    }
    const data = answer.data;
    const expiresAt = Date.parse(data.expires_at);
    if (typeof data.token !== 'string' || !Number.isFinite(expiresAt)) {
      throw new GitHubError(201, 'transient', 'GitHub answered the token request without a token or expiry');
    }
    return {
      token: data.token,
      expiresAt,
      permissions: data.permissions ?? {},
      repositoryIds: (data.repositories ?? []).map((r) => r.id),
    };
  }

  /**
   * A token for one task's repository with `TASK_PERMISSIONS`, from the cache while it has more
   * than the refresh margin left, else freshly minted. Concurrent callers share one mint.
   */
  installationToken(installationId: number, repositoryId: number, permissions = TASK_PERMISSIONS) {
    return this.cachedToken(installationId, [repositoryId], permissions);
  }

  private cachedToken(installationId: number, repositoryIds: number[], permissions: Permissions) {
    const key = JSON.stringify([
      installationId,
      [...repositoryIds].sort((a, b) => a - b),
      Object.entries(permissions).sort(),
    ]);
    const now = this.rest.now();
    for (const [k, e] of this.tokens) if (!e.pending && e.token && e.token.expiresAt <= now) this.tokens.delete(k);
    const entry = this.tokens.get(key) ?? {};
    if (entry.token && entry.token.expiresAt - now > this.margin) return Promise.resolve(entry.token);
    if (entry.pending) return entry.pending;
    const pending = this.mintInstallationToken(installationId, { repositoryIds, permissions }).then(
      (token) => {
        entry.token = token;
        entry.pending = undefined;
        return token;
      },
      (e) => {
        entry.pending = undefined;
        throw e;
      },
    );
    entry.pending = pending;
    this.tokens.set(key, entry);
    return pending;
  }

  /**
   * Every repository the installation can reach (all pages of `GET /installation/repositories`),
   * with a metadata-only token for all of them that is revoked right after.
   */
  async installationRepositories(installationId: number): Promise<GitHubRepository[]> {
    const { token } = await this.mintInstallationToken(installationId, { permissions: METADATA_ONLY });
    try {
      return await listInstallationRepositories(this.rest, token);
    } finally {
      await this.rest.request('DELETE', '/installation/token', { token }).catch(() => {});
    }
  }

  /** One repository of the installation by its id (survives renames), with a token scoped to it. */
  async repositoryById(installationId: number, repositoryId: number): Promise<GitHubRepository> {
    const { token } = await this.cachedToken(installationId, [repositoryId], METADATA_ONLY);
    return getRepositoryById(this.rest, token, repositoryId);
  }
}

/** All pages of `GET /installation/repositories` with an installation token. */
export async function listInstallationRepositories(
  rest: Rest,
  token: string,
  perPage = 100,
): Promise<GitHubRepository[]> {
  const wire = await rest.paginate<{ repositories: WireRepository[] }, WireRepository>(
    '/installation/repositories',
    { token, query: { per_page: perPage } },
    (page) => page.repositories ?? [],
  );
  return wire.map(toRepository);
}

/** `GET /repositories/{id}`: a repository by its numeric id. */
export async function getRepositoryById(rest: Rest, token: string, repositoryId: number): Promise<GitHubRepository> {
  const { data } = await rest.request<WireRepository>('GET', `/repositories/${encodeURIComponent(repositoryId)}`, {
    token,
  });
  return toRepository(data);
}

/** The installations a GitHub user can reach (`GET /user/installations`, user access token). */
export async function userInstallations(rest: Rest, userToken: string): Promise<GitHubInstallation[]> {
  const wire = await rest.paginate<{ installations: WireInstallation[] }, WireInstallation>(
    '/user/installations',
    { token: userToken },
    (page) => page.installations ?? [],
  );
  return wire.map(toInstallation);
}

/** The repositories of an installation that the user can reach too (user ∩ App). */
export async function userInstallationRepositories(
  rest: Rest,
  userToken: string,
  installationId: number,
): Promise<GitHubRepository[]> {
  const wire = await rest.paginate<{ repositories: WireRepository[] }, WireRepository>(
    `/user/installations/${encodeURIComponent(installationId)}/repositories`,
    { token: userToken },
    (page) => page.repositories ?? [],
  );
  return wire.map(toRepository);
}

/**
 * Whether an installation may be linked by the holder of `userToken`. The `installation_id` of the
 * setup redirect can be spoofed, so it counts only when the user's own `GET /user/installations`
 * lists it, and — for an installation on a personal account — that account is the user's (a
 * collaborator sees other people's personal installations there too). Throws a permanent
 * `GitHubError` (403) otherwise.
 */
export async function verifyUserInstallation(
  rest: Rest,
  userToken: string,
  installationId: number,
): Promise<GitHubInstallation> {
  const [{ data: user }, installations] = await Promise.all([
    rest.request<{ id: number; login: string }>('GET', '/user', { token: userToken }),
    userInstallations(rest, userToken),
  ]);
  const found = installations.find((i) => i.id === installationId);
  if (!found) {
    throw new GitHubError(
      403,
      'permanent',
      `GitHub installation ${installationId} is not accessible to the GitHub user ${user.login}`,
    );
  }
  if (found.account.type === 'User' && found.account.id !== user.id) {
    throw new GitHubError(
      403,
      'permanent',
      `GitHub installation ${installationId} belongs to the personal account ${found.account.login}, not to ${user.login}`,
    );
  }
  return found;
}
