/**
 * A fake GitHub for tests: the REST endpoints SAM uses (routes.ts), with App JWT and token
 * authentication, rate-limit headers and budgets (rate-limits.ts), in front of a real
 * `git http-backend` that serves bare repositories over smart HTTP to holders of a valid, unexpired
 * installation token scoped to the repository (git-auth.ts). One loopback server: REST at `/…`
 * (the `apiUrl`), git at `/{owner}/{repo}.git/…` (`clone_url`). Webhook deliveries: deliveries.ts.
 * Behaviour and texts follow GitHub's documentation and OpenAPI description; the contract tests in
 * tests/github/fake-*.test.ts hold it to them.
 *
 *     const fake = await FakeGitHub.start({ now: () => clock, tokenLifetimeMs: 120_000 });
 *     const org = fake.addAccount('acme', 'Organization');
 *     const repo = fake.addRepository(org, 'site');          // private, `main` with one commit
 *     const inst = fake.addInstallation(org);                // or addInstallation(org, [repo])
 *     const user = fake.addUser('alice'); fake.grant(user, inst);
 *     // GitHubApp({ appId: fake.app.id, privateKey: fake.app.privateKeyPem, apiUrl: fake.url })
 *     await fake.close();
 */
import { generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBareRepo, setBranch } from './bare-repos.ts';
import { handleGit } from './git-auth.ts';
import { type OAuthCode, webRoute } from './oauth.ts';
import { authenticate, type Credential } from './rest-auth.ts';
import { RateLimits } from './rate-limits.ts';
import { errorBody, type Reply } from './replies.ts';
import { route } from './routes.ts';
import type { Account, Installation, Pull, Repo } from './shapes.ts';

export interface FakeGitHubOptions {
  /** Epoch ms; share one with the client under test to move time. */
  now?: () => number;
  /** Installation token lifetime (GitHub: one hour). */
  tokenLifetimeMs?: number;
  /** Requests per hour per credential (GitHub: 5,000 for installations and users). */
  rateLimit?: number;
  /** The status of an exhausted primary limit: GitHub sends 403 or 429. */
  rateLimitStatus?: 403 | 429;
}

export interface FakeToken {
  token: string;
  installationId: number;
  /** null: every repository of the installation. */
  repositoryIds: number[] | null;
  permissions: Record<string, 'read' | 'write'>;
  expiresAt: number;
  revoked: boolean;
}

export interface FakeUser {
  account: Account;
  token: string;
  /** The primary, verified email (`GET /user/emails`). */
  email: string;
  installationIds: Set<number>;
  createdAt: string;
}

export interface FakeApp {
  id: number;
  clientId: string;
  /** The OAuth client secret (`POST /login/oauth/access_token`). */
  clientSecret: string;
  slug: string;
  /** PEM PKCS#1, as GitHub hands it out. */
  privateKeyPem: string;
  publicKey: KeyObject;
  permissions: Record<string, 'read' | 'write'>;
}

const HOUR = 3_600_000;

export class FakeGitHub {
  readonly app: FakeApp;
  readonly now: () => number;
  readonly root: string;
  tokenLifetimeMs: number;
  readonly limits: RateLimits;
  readonly accounts = new Map<number, Account>();
  readonly repos = new Map<number, Repo>();
  readonly installations = new Map<number, Installation>();
  readonly users = new Map<string, FakeUser>();
  readonly tokens = new Map<string, FakeToken>();
  readonly pulls: Pull[] = [];
  /** OAuth: the codes handed out and not yet exchanged, and live refresh tokens (oauth.ts). */
  readonly oauthCodes = new Map<string, OAuthCode>();
  readonly refreshTokens = new Map<string, FakeUser>();
  /** The App's registered callback URLs (≤ 10); the authorize page accepts only these. */
  oauthCallbackUrls: string[] = [];
  /** The App's Setup URL: where the install page sends the browser. */
  setupUrl: string | undefined;
  /** Who the browser is signed in to GitHub as: the authorize and install pages approve as them. */
  signedIn: FakeUser | undefined;
  /** The installation the install page completes (default: the user's first, else a new one). */
  installTarget: Installation | undefined;
  /** Every request the fake answered: method, path, status (for assertions on call patterns). */
  readonly log: { method: string; path: string; status: number }[] = [];
  private nextId = 1000;
  private server: Server | undefined;
  url = '';

  private constructor(options: FakeGitHubOptions) {
    this.now = options.now ?? (() => Date.now());
    this.tokenLifetimeMs = options.tokenLifetimeMs ?? HOUR;
    this.limits = new RateLimits(this.now, options.rateLimit, options.rateLimitStatus);
    this.root = mkdtempSync(join(tmpdir(), 'fake-github-'));
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.app = {
      id: this.id(),
      clientId: `Iv23${randomBytes(8).toString('hex')}`,
      clientSecret: randomBytes(20).toString('hex'),
      slug: 'sam-test-app',
      privateKeyPem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      publicKey,
      permissions: { contents: 'write', pull_requests: 'write', metadata: 'read' },
    };
  }

  static async start(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
    const fake = new FakeGitHub(options);
    const server = createServer((req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    fake.server = server;
    fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return fake;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    rmSync(this.root, { recursive: true, force: true });
  }

  id(): number {
    return this.nextId++;
  }

  iso(ms = this.now()): string {
    return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  }

  addAccount(login: string, type: 'User' | 'Organization' = 'User'): Account {
    const account = { id: this.id(), login, type };
    this.accounts.set(account.id, account);
    return account;
  }

  /** A GitHub user with a user access token (`ghu_…`). */
  addUser(login: string): FakeUser {
    const user = {
      account: this.addAccount(login, 'User'),
      token: `ghu_${randomBytes(18).toString('base64url')}`,
      email: `${login.toLowerCase()}@users.example.com`,
      installationIds: new Set<number>(),
      createdAt: this.iso(),
    };
    this.users.set(user.token, user);
    return user;
  }

  /** A repository (private by default) backed by a bare git repository with one commit. */
  addRepository(owner: Account, name: string, opts: { private?: boolean; defaultBranch?: string } = {}): Repo {
    const repo = {
      id: this.id(),
      owner,
      name,
      private: opts.private ?? true,
      defaultBranch: opts.defaultBranch ?? 'main',
      createdAt: this.iso(),
    };
    createBareRepo(this.repoPath(repo), repo.defaultBranch, this.root);
    this.repos.set(repo.id, repo);
    return repo;
  }

  repoPath(repo: Repo): string {
    return join(this.root, 'git', repo.owner.login, `${repo.name}.git`);
  }

  /** Points `branch` at `from` plus a commit adding `file` (or at `from` itself); returns its sha. */
  setBranch(repo: Repo, branch: string, opts: { from?: string; file?: string } = {}): string {
    return setBranch(this.repoPath(repo), branch, opts.from ?? repo.defaultBranch, this.root, opts.file);
  }

  /** Installs the App on an account, for all its repositories or a selection. */
  addInstallation(account: Account, repositories: 'all' | Repo[] = 'all', permissions = this.app.permissions) {
    const inst: Installation = {
      id: this.id(),
      account,
      repositories: repositories === 'all' ? 'all' : repositories.map((r) => r.id),
      permissions,
      createdAt: this.iso(),
    };
    this.installations.set(inst.id, inst);
    return inst;
  }

  /** The repositories an installation reaches. */
  installationRepos(inst: Installation): Repo[] {
    return [...this.repos.values()].filter((r) =>
      inst.repositories === 'all' ? r.owner.id === inst.account.id : inst.repositories.includes(r.id),
    );
  }

  /** Lets a user see an installation in `GET /user/installations` (installer, org member, collaborator). */
  grant(user: FakeUser, inst: Installation): void {
    user.installationIds.add(inst.id);
  }

  findRepo(owner: string, name: string): Repo | undefined {
    const n = name.toLowerCase();
    const o = owner.toLowerCase();
    return [...this.repos.values()].find((r) => r.owner.login.toLowerCase() === o && r.name.toLowerCase() === n);
  }

  /** Whether a token reaches a repository. */
  tokenReaches(t: FakeToken, repo: Repo): boolean {
    const inst = this.installations.get(t.installationId);
    if (!inst || !this.installationRepos(inst).some((r) => r.id === repo.id)) return false;
    return t.repositoryIds === null || t.repositoryIds.includes(repo.id);
  }

  /** A usable token (unexpired, not revoked), or undefined. */
  liveToken(token: string): FakeToken | undefined {
    const t = this.tokens.get(token);
    return t && !t.revoked && t.expiresAt > this.now() ? t : undefined;
  }

  closePull(repo: Repo, number: number, merged = false): void {
    const p = this.pulls.find((x) => x.repoId === repo.id && x.number === number);
    if (!p) throw new Error(`no PR #${number}`);
    p.state = 'closed';
    p.merged = merged;
    p.closedAt = p.updatedAt = this.iso();
  }

  /** The next `count` authenticated requests hit a secondary rate limit with `retry-after`. */
  secondaryLimit(retryAfterSeconds: number, count = 1, status: 403 | 429 = 403): void {
    this.limits.secondaryLimit(retryAfterSeconds, count, status);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const path = url.pathname;
    const done = (status: number) => this.log.push({ method: req.method ?? 'GET', path, status });
    try {
      if (/^\/[^/]+\/[^/]+\.git\//.test(path)) {
        handleGit(this, req, res, url);
        res.on('finish', () => done(res.statusCode));
        return;
      }
      const web = /^\/(login\/oauth|apps)\//.test(path)
        ? (webRoute(this, req, url, await readBody(req)) ?? { status: 404, text: 'Not Found' })
        : undefined;
      const reply = web ? { ...web, headers: web.headers ?? {} } : await this.rest(req, url);
      res.writeHead(reply.status, reply.headers);
      res.end(reply.text ?? (reply.body === undefined ? undefined : JSON.stringify(reply.body)));
      done(reply.status);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: `fake GitHub failed: ${(e as Error).message}` }));
      done(500);
    }
  }

  private async rest(req: IncomingMessage, url: URL): Promise<Reply & { headers: Record<string, string> }> {
    if (!req.headers['user-agent']) {
      const body =
        'Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://githubstatus.com for possible causes of service disruption.';
      req.resume();
      return this.withLimit('ip', { status: 403, headers: { 'content-type': 'text/html' }, text: body });
    }
    const version = req.headers['x-github-api-version'];
    if (version !== undefined && version !== '2022-11-28' && version !== '2026-03-10') {
      req.resume();
      return this.withLimit('ip', errorBody(400, `Invalid API version provided: ${String(version)}`));
    }
    const raw = await readBody(req);
    const cred: Credential = await authenticate(this, req.headers.authorization);
    if (cred.kind === 'invalid') return this.withLimit('ip', errorBody(401, cred.message));
    const key =
      cred.kind === 'installation'
        ? `installation:${cred.token.installationId}`
        : cred.kind === 'user'
          ? `user:${cred.user.account.id}`
          : cred.kind === 'app'
            ? 'app'
            : 'ip';
    const who = cred.kind === 'installation' ? `installation ID ${cred.token.installationId}` : 'this credential';
    const limited = this.limits.spend(key, who);
    if (limited) return this.withLimit(key, limited);
    const reply = await route(this, { method: req.method ?? 'GET', url, raw, cred });
    return this.withLimit(key, reply);
  }

  private withLimit(key: string, reply: Reply): Reply & { headers: Record<string, string> } {
    return this.limits.withHeaders(key, reply);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
