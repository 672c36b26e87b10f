/**
 * Installation tokens for tasks: what a workspace's git may get, and for which repository. The
 * workspace names the repository git asks about (host and path); it gets a token only when that is
 * its task's own repository, and the token is minted for that repository's id alone (so even a
 * token handed out by mistake reaches nothing else), with the task permissions. One token per
 * task is kept until it is near its expiry, then a fresh one is minted.
 */
import { type GitHubApp, type InstallationToken, TASK_PERMISSIONS } from './app.ts';

/** What `workspace_git_target()` answers for the calling workspace. */
export interface GitTarget {
  taskId: string;
  repository: string;
  repoProvider: string;
  installationId: number | null;
  repositoryId: number | null;
  fullName: string | null;
  installationSuspended: boolean;
  installationDeleted: boolean;
}

/** Why a workspace gets no token: `not_allowed` (another repository) or `not_linked`. */
export class GitTargetRefusal extends Error {
  constructor(
    readonly reason: 'not_allowed' | 'not_linked',
    message: string,
  ) {
    super(message);
    this.name = 'GitTargetRefusal';
  }
}

/** `owner/repo` of a path as git sends it (`/owner/repo.git/`), lower-cased. */
export function repoPathKey(path: string): string {
  return path
    .trim()
    .replace(/^\/+|\/+$/g, '')
    .replace(/\.git$/i, '')
    .toLowerCase();
}

function urlParts(url: string): { host: string; path: string } | null {
  try {
    const u = new URL(url);
    return { host: u.host.toLowerCase(), path: repoPathKey(decodeURIComponent(u.pathname)) };
  } catch {
    return null;
  }
}

/**
 * Throws a {@link GitTargetRefusal} unless `host` + `path` name the task's repository (its clone
 * URL's host, and the URL's path or the linked `owner/name`) and the project is linked to GitHub.
 */
export function assertTaskRepository(target: GitTarget, asked: { host: string; path: string }): void {
  const where = urlParts(target.repository);
  const askedPath = repoPathKey(asked.path);
  const names = new Set([where?.path, target.fullName ? repoPathKey(target.fullName) : undefined]);
  const same = where !== null && asked.host.trim().toLowerCase() === where.host && names.has(askedPath);
  if (!same) {
    throw new GitTargetRefusal(
      'not_allowed',
      `This workspace may get a git token only for its task's repository, not for ${asked.host}/${askedPath}`,
    );
  }
  if (target.repoProvider !== 'github' || target.installationId === null || target.repositoryId === null) {
    throw new GitTargetRefusal(
      'not_linked',
      "The task's project is not linked to a GitHub App installation, so SAM has no token for its repository",
    );
  }
  if (target.installationDeleted) {
    throw new GitTargetRefusal('not_linked', 'The GitHub App was uninstalled from the account of this repository');
  }
  if (target.installationSuspended) {
    throw new GitTargetRefusal('not_linked', 'The GitHub App installation of this repository is suspended');
  }
}

/** A token is reused while more than this is left of it (GitHub's tokens live an hour). */
const DEFAULT_MARGIN_MS = 10 * 60_000;

export class TaskTokens {
  private readonly tokens = new Map<
    string,
    { key: string; token?: InstallationToken; pending?: Promise<InstallationToken> }
  >();

  constructor(
    readonly app: GitHubApp,
    private readonly marginMs = DEFAULT_MARGIN_MS,
  ) {}

  /** The task's token for its repository: cached while fresh, else minted (concurrent asks share one mint). */
  forTask(taskId: string, installationId: number, repositoryId: number): Promise<InstallationToken> {
    const now = this.app.rest.now();
    for (const [id, e] of this.tokens) if (!e.pending && e.token && e.token.expiresAt <= now) this.tokens.delete(id);
    const key = `${installationId}/${repositoryId}`;
    let entry = this.tokens.get(taskId);
    if (entry && entry.key !== key) entry = undefined; // the project was linked elsewhere meanwhile
    if (entry?.token && entry.token.expiresAt - now > this.marginMs) return Promise.resolve(entry.token);
    if (entry?.pending) return entry.pending;
    const fresh: { key: string; token?: InstallationToken; pending?: Promise<InstallationToken> } = { key };
    fresh.pending = this.app
      .mintInstallationToken(installationId, { repositoryIds: [repositoryId], permissions: TASK_PERMISSIONS })
      .then(
        (token) => {
          fresh.token = token;
          fresh.pending = undefined;
          return token;
        },
        (e: unknown) => {
          if (this.tokens.get(taskId) === fresh) this.tokens.delete(taskId);
          throw e;
        },
      );
    this.tokens.set(taskId, fresh);
    return fresh.pending;
  }
}
