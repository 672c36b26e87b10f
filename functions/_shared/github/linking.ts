/**
 * Linking a user's GitHub App installations and pointing projects at repositories, with proof from
 * GitHub at each step:
 *
 * - link: the installation id of the Setup URL is only a claim; it counts once the user's own GitHub
 *   user access token (from the GitHub sign-in, or an OAuth code exchanged here) lists it in
 *   `GET /user/installations` — and, for a personal account, that account is theirs.
 * - repositories: one page of `GET /installation/repositories` with a metadata-only installation
 *   token, for an installation the user linked.
 * - attach: the repository must be reachable through the user's linked installation; the project
 *   then stores GitHub's numeric id (renames do not break it) and the clone URL.
 *
 * Reads run as the user (RLS decides); writes run the SQL functions as the system for the user
 * verified here.
 */
import type {
  AttachedRepository,
  LinkedInstallation,
  LinkRequest,
  RepositoryPage,
} from '../common/contracts/github.ts';
import { asIdentity, fromPostgresError, type Sql } from '../db.ts';
import { HttpError } from '../http-error.ts';
import type { UserClaims } from '../user-auth.ts';
import { type GitHubApp, verifyUserInstallation } from './app.ts';
import type { GitHubConfig } from './config.ts';
import { GitHubError } from './errors.ts';
import { toRepository, type WireRepository } from './types.ts';

type Row = Record<string, unknown>;

const iso = (v: unknown) => (v instanceof Date ? v.toISOString() : new Date(String(v)).toISOString());

function linked(row: Row): LinkedInstallation {
  return {
    installationId: Number(row.installation_id),
    accountLogin: row.account_login as string,
    accountType: row.account_type as string,
    repositorySelection: row.repository_selection as 'all' | 'selected',
    linkedAt: iso(row.created_at),
  };
}

/** GitHub's refusal as the function's error: permanent → 4xx in GitHub's words, else 502/503. */
export function fromGitHubError(e: unknown): unknown {
  if (!(e instanceof GitHubError)) return e;
  if (e.kind === 'rate_limited') {
    return new HttpError(503, 'github_rate_limited', e.message, { retryAt: e.retryAt ?? null });
  }
  if (e.kind === 'transient') return new HttpError(502, 'github_unavailable', e.message);
  if (e.status === 401) return new HttpError(403, 'github_token_refused', e.message);
  if (e.status === 404) return new HttpError(404, 'not_found', e.message);
  return new HttpError(403, 'github_refused', e.message);
}

const userIdentity = (user: UserClaims) => ({ ...user, role: 'authenticated' as const });

/** `POST /login/oauth/access_token`: an OAuth code for the user's access token (failures come as HTTP 200). */
export async function exchangeOAuthCode(
  config: GitHubConfig,
  code: string,
  redirectUri: string | undefined,
  doFetch: typeof fetch = fetch,
): Promise<string> {
  const body = new URLSearchParams({ client_id: config.clientId, client_secret: config.clientSecret, code });
  if (redirectUri) body.set('redirect_uri', redirectUri);
  let res: Response;
  try {
    res = await doFetch(`${config.webUrl}/login/oauth/access_token`, {
      method: 'POST',
      headers: {
        accept: 'application/json',
        'content-type': 'application/x-www-form-urlencoded',
        'user-agent': 'sam-on-supabase',
      },
      body: body.toString(),
    });
  } catch (e) {
    throw new HttpError(502, 'github_unavailable', `GitHub could not be reached: ${(e as Error).message}`);
  }
  const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok || typeof answer.access_token !== 'string') {
    const why = typeof answer.error_description === 'string' ? answer.error_description : `HTTP ${res.status}`;
    throw new HttpError(403, 'github_code_refused', `GitHub did not accept the authorization code: ${why}`);
  }
  return answer.access_token;
}

export async function linkInstallation(
  sql: Sql,
  app: GitHubApp,
  config: GitHubConfig,
  user: UserClaims,
  req: LinkRequest,
  doFetch?: typeof fetch,
): Promise<LinkedInstallation> {
  const userToken = req.providerToken ?? (await exchangeOAuthCode(config, req.code!, req.redirectUri, doFetch));
  const found = await verifyUserInstallation(app.rest, userToken, req.installationId).catch((e: unknown) => {
    throw fromGitHubError(e);
  });
  if (found.suspended) {
    throw new HttpError(409, 'invalid_state', `GitHub installation ${found.id} is suspended; unsuspend it on GitHub`);
  }
  const type = ['User', 'Organization'].includes(found.account.type) ? found.account.type : 'Enterprise';
  try {
    const [row] = await sql`
      select * from public.link_github_installation(${user.sub}, ${found.id}, ${found.account.id},
        ${found.account.login}, ${type}, ${found.repositorySelection})`;
    return linked(row!);
  } catch (e) {
    throw fromPostgresError(e);
  }
}

export async function listLinkedInstallations(sql: Sql, user: UserClaims): Promise<LinkedInstallation[]> {
  const rows = await asIdentity(
    sql,
    userIdentity(user),
    (tx) => tx`
      select installation_id, account_login, account_type, repository_selection, created_at
      from public.github_installations order by account_login, installation_id`,
  );
  return rows.map(linked);
}

/** 404 unless the user linked this installation (read as the user: RLS decides). */
async function requireLinked(sql: Sql, user: UserClaims, installationId: number): Promise<void> {
  const rows = await asIdentity(
    sql,
    userIdentity(user),
    (tx) => tx`select 1 from public.github_installations where installation_id = ${installationId}`,
  );
  if (rows.length === 0) {
    throw new HttpError(404, 'not_found', `GitHub installation ${installationId} is not linked to your account`);
  }
}

export async function unlinkInstallation(sql: Sql, user: UserClaims, installationId: number): Promise<void> {
  await requireLinked(sql, user, installationId);
  try {
    await sql`select public.unlink_github_installation(${user.sub}, ${installationId})`;
  } catch (e) {
    throw fromPostgresError(e);
  }
}

/** One page of the installation's repositories, with a metadata-only token revoked right after. */
export async function repositoryPage(
  sql: Sql,
  app: GitHubApp,
  user: UserClaims,
  installationId: number,
  page: number,
  perPage: number,
): Promise<RepositoryPage> {
  await requireLinked(sql, user, installationId);
  try {
    const { token } = await app.mintInstallationToken(installationId, { permissions: { metadata: 'read' } });
    try {
      const answer = await app.rest.request<{ total_count: number; repositories: WireRepository[] }>(
        'GET',
        '/installation/repositories',
        { token, query: { per_page: perPage, page } },
      );
      const repos = (answer.data.repositories ?? []).map(toRepository);
      return {
        repositories: repos.map((r) => ({
          id: r.id,
          fullName: r.fullName,
          private: r.private,
          defaultBranch: r.defaultBranch,
          htmlUrl: r.htmlUrl,
        })),
        page,
        perPage,
        totalCount: answer.data.total_count ?? repos.length,
        hasNext: /rel="next"/.test(answer.headers.get('link') ?? ''),
      };
    } finally {
      await app.rest.request('DELETE', '/installation/token', { token }).catch(() => {});
    }
  } catch (e) {
    throw fromGitHubError(e);
  }
}

export async function attachRepository(
  sql: Sql,
  app: GitHubApp,
  user: UserClaims,
  projectId: string,
  installationId: number,
  repositoryId: number,
): Promise<AttachedRepository> {
  await requireLinked(sql, user, installationId);
  const owned = await asIdentity(
    sql,
    userIdentity(user),
    (tx) => tx`select 1 from public.projects where id = ${projectId}`,
  );
  if (owned.length === 0) throw new HttpError(404, 'not_found', 'No such project');
  // A repository outside the installation cannot get a token scoped to it: GitHub answers 422/404.
  const repo = await app.repositoryById(installationId, repositoryId).catch((e: unknown) => {
    if (e instanceof GitHubError && (e.status === 422 || e.status === 404)) {
      throw new HttpError(
        404,
        'not_found',
        `Repository ${repositoryId} is not in GitHub installation ${installationId}`,
      );
    }
    throw fromGitHubError(e);
  });
  try {
    const [row] = await sql`
      select * from public.set_project_github_repository(${user.sub}, ${projectId}, ${installationId},
        ${repo.id}, ${repo.fullName}, ${repo.cloneUrl}, ${repo.defaultBranch})`;
    return {
      projectId,
      installationId,
      repositoryId: repo.id,
      fullName: repo.fullName,
      repository: row!.repository as string,
      defaultBranch: row!.default_branch as string,
    };
  } catch (e) {
    throw fromPostgresError(e);
  }
}
