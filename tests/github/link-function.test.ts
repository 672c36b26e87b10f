/**
 * The `github` function in-process (`app.request()`) over a real test database and the fake GitHub:
 * an installation is linked only with GitHub's proof that it is the user's, repositories are listed
 * page by page, a project points at a repository by id, and every route refuses other users.
 */
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InstallationList,
  LinkedInstallation,
  RepositoryPage,
} from '../../functions/_shared/common/contracts/github.ts';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { GitHubApp } from '../../functions/_shared/github/app.ts';
import type { GitHubConfig } from '../../functions/_shared/github/config.ts';
import { userVerifier } from '../../functions/_shared/user-auth.ts';
import { createGitHubApp } from '../../functions/github/app.ts';
import { FakeGitHub, type FakeUser } from '../fakes/github/server.ts';
import type { Account, Installation, Repo } from '../fakes/github/shapes.ts';
import { as, createProject, createUser } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';

const db = useTestDatabase('github-link');
const KID = 'test-key';
let sql: Sql;
let fake: FakeGitHub;
let signingKey: JoseKey;
let app: ReturnType<typeof createGitHubApp>;
let config: GitHubConfig;
let org: Account;
let repos: Repo[];
let orgInst: Installation;
let strangerInst: Installation;
let ghAlice: FakeUser;
let ghBob: FakeUser;
let alice: string;
let bob: string;
let aliceToken: string;
let bobToken: string;

async function tokenFor(sub: string) {
  return new SignJWT({ role: 'authenticated', aud: 'authenticated' })
    .setProtectedHeader({ alg: 'ES256', kid: KID })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(signingKey);
}

async function call(method: string, path: string, token: string | null, body?: unknown, target = app) {
  const res = await target.request(`/github${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, text };
}

beforeAll(async () => {
  sql = connect(db.url('postgres'));
  fake = await FakeGitHub.start();
  org = fake.addAccount('acme', 'Organization');
  repos = ['one', 'two', 'three', 'four', 'five'].map((n) => fake.addRepository(org, n));
  orgInst = fake.addInstallation(org);
  strangerInst = fake.addInstallation(fake.addAccount('globex', 'Organization'));
  ghAlice = fake.addUser('alice');
  ghBob = fake.addUser('bob');
  fake.grant(ghAlice, orgInst);
  config = {
    appId: String(fake.app.id),
    slug: fake.app.slug,
    clientId: fake.app.clientId,
    clientSecret: fake.app.clientSecret,
    privateKey: fake.app.privateKeyPem,
    apiUrl: fake.url,
    webUrl: fake.url,
  };
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'ES256' }] });
  app = createGitHubApp({
    sql,
    github: { config, app: new GitHubApp({ appId: config.appId, privateKey: config.privateKey, apiUrl: fake.url }) },
    verifyUser: userVerifier({
      jwks,
      supabaseUrl: 'http://127.0.0.1:9',
      apiKey: 'unused',
      fetch: async () => new Response('{}', { status: 403 }),
    }),
  });
  alice = await createUser(db.admin);
  bob = await createUser(db.admin);
  aliceToken = await tokenFor(alice);
  bobToken = await tokenFor(bob);
}, 60_000);

afterAll(async () => {
  await sql?.end();
  await fake?.close();
});

const linkedRows = async (owner: string) =>
  db.admin`select installation_id from public.github_installations where owner_id = ${owner}`;

describe('linking an installation', () => {
  it('hands out the App install page', async () => {
    const r = await call('GET', '/install-url', aliceToken);
    expect(r.json.url).toBe(`${fake.url}/apps/${fake.app.slug}/installations/new`);
    expect((await call('GET', '/install-url', null)).status).toBe(401);
  });

  it('refuses a spoofed installation id the user cannot see on GitHub, and stores nothing', async () => {
    const r = await call('POST', '/installations', aliceToken, {
      installationId: strangerInst.id,
      providerToken: ghAlice.token,
    });
    expect(r.status).toBe(403);
    expect(r.json.error.message).toContain(
      `installation ${strangerInst.id} is not accessible to the GitHub user alice`,
    );
    expect(await linkedRows(alice)).toHaveLength(0);
  });

  it("refuses someone else's personal installation even when GitHub lists it (a collaborator sees it)", async () => {
    const carol = fake.addUser('carol');
    const personal = fake.addInstallation(carol.account);
    fake.grant(ghBob, personal);
    const r = await call('POST', '/installations', bobToken, {
      installationId: personal.id,
      providerToken: ghBob.token,
    });
    expect(r.status).toBe(403);
    expect(r.json.error.message).toContain('personal account carol');
    expect(await linkedRows(bob)).toHaveLength(0);
  });

  it('refuses a GitHub token GitHub does not know, and a bad OAuth code', async () => {
    const bad = await call('POST', '/installations', aliceToken, {
      installationId: orgInst.id,
      providerToken: 'ghu_x',
    });
    expect(bad.status).toBe(403);
    expect(bad.json.error.code).toBe('github_token_refused');
    const code = await call('POST', '/installations', aliceToken, { installationId: orgInst.id, code: 'nope' });
    expect(code.status).toBe(403);
    expect(code.json.error.message).toContain('The code passed is incorrect or expired.');
    const both = await call('POST', '/installations', aliceToken, { installationId: orgInst.id });
    expect(both.status).toBe(400);
  });

  it('links an installation the user proves with their GitHub token; linking again is harmless', async () => {
    const r = await call('POST', '/installations', aliceToken, {
      installationId: orgInst.id,
      providerToken: ghAlice.token,
    });
    expect(r.status).toBe(201);
    expect(LinkedInstallation.parse(r.json)).toMatchObject({
      installationId: orgInst.id,
      accountLogin: 'acme',
      accountType: 'Organization',
      repositorySelection: 'all',
    });
    expect(
      (await call('POST', '/installations', aliceToken, { installationId: orgInst.id, providerToken: ghAlice.token }))
        .status,
    ).toBe(201);
    const list = InstallationList.parse((await call('GET', '/installations', aliceToken)).json);
    expect(list.installations.map((i) => i.installationId)).toEqual([orgInst.id]);
    expect((await call('GET', '/installations', bobToken)).json.installations).toEqual([]);
  });

  it('links with an OAuth code exchanged by the function (the Setup URL path without a sign-in token)', async () => {
    fake.oauthCallbackUrls = ['http://127.0.0.1:9/#/settings'];
    fake.signedIn = ghAlice;
    const page = await fetch(
      `${fake.url}/login/oauth/authorize?client_id=${fake.app.clientId}&redirect_uri=${encodeURIComponent(fake.oauthCallbackUrls[0]!)}`,
      { redirect: 'manual' },
    );
    const code = new URL(page.headers.get('location')!).searchParams.get('code')!;
    const r = await call('POST', '/installations', aliceToken, {
      installationId: orgInst.id,
      code,
      redirectUri: fake.oauthCallbackUrls[0],
    });
    expect(r.status).toBe(201);
    expect(r.text).not.toContain('ghu_');
  });
});

describe('picking a repository', () => {
  it('lists the installation repositories page by page', async () => {
    const p1 = RepositoryPage.parse(
      (await call('GET', `/installations/${orgInst.id}/repositories?perPage=2`, aliceToken)).json,
    );
    expect(p1).toMatchObject({ page: 1, perPage: 2, totalCount: 5, hasNext: true });
    expect(p1.repositories.map((r) => r.fullName)).toEqual(['acme/one', 'acme/two']);
    const p3 = RepositoryPage.parse(
      (await call('GET', `/installations/${orgInst.id}/repositories?perPage=2&page=3`, aliceToken)).json,
    );
    expect(p3).toMatchObject({ page: 3, hasNext: false });
    expect(p3.repositories.map((r) => r.id)).toEqual([repos[4]!.id]);
    // The metadata-only tokens it minted were revoked again.
    expect([...fake.tokens.values()].filter((t) => !t.revoked)).toHaveLength(0);
  });

  it("refuses another user's installation and ids that are not numbers", async () => {
    expect((await call('GET', `/installations/${orgInst.id}/repositories`, bobToken)).status).toBe(404);
    expect((await call('GET', '/installations/abc/repositories', aliceToken)).status).toBe(400);
    expect((await call('GET', `/installations/${orgInst.id}/repositories?perPage=500`, aliceToken)).status).toBe(400);
  });

  it('points a project at a repository by id; the user cannot write those columns themselves', async () => {
    const project = await createProject(db.admin, alice);
    const r = await call('PUT', `/projects/${project}/repository`, aliceToken, {
      installationId: orgInst.id,
      repositoryId: repos[1]!.id,
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      fullName: 'acme/two',
      repository: `${fake.url}/acme/two.git`,
      defaultBranch: 'main',
    });
    const [row] = await db.admin`
      select github_installation_id, github_repository_id, github_full_name, repository, repo_provider
      from public.projects where id = ${project}`;
    expect(row).toMatchObject({
      github_installation_id: String(orgInst.id),
      github_repository_id: String(repos[1]!.id),
      github_full_name: 'acme/two',
      repo_provider: 'github',
    });
    const attempt = (q: (tx: Parameters<Parameters<typeof as>[3]>[0]) => Promise<unknown>) =>
      as(db.admin, 'authenticated', { sub: alice }, q).then(
        () => 'allowed',
        (e: { code?: string }) => e.code,
      );
    // Column grants refuse the update; the guard trigger refuses what table-wide grants would let in.
    const direct = await attempt(
      (tx) => tx`update public.projects set github_repository_id = ${repos[0]!.id} where id = ${project}`,
    );
    expect(direct).toBe('42501');
    const inserted = await attempt(
      (tx) => tx`insert into public.projects (owner_id, name, repository, default_agent_type, github_installation_id,
           github_repository_id, github_full_name)
         values (${alice}, 'sneaky', 'x', 'demo', ${strangerInst.id}, 1, 'globex/x')`,
    );
    expect(inserted).toBe('42501');
  });

  it("refuses a repository outside the installation, another user's project, and an installation not linked", async () => {
    const project = await createProject(db.admin, alice);
    const outside = fake.addRepository(fake.addAccount('initech', 'Organization'), 'secret');
    const r = await call('PUT', `/projects/${project}/repository`, aliceToken, {
      installationId: orgInst.id,
      repositoryId: outside.id,
    });
    expect(r.status).toBe(404);
    const bobProject = await createProject(db.admin, bob);
    const notHis = await call('PUT', `/projects/${bobProject}/repository`, bobToken, {
      installationId: orgInst.id,
      repositoryId: repos[0]!.id,
    });
    expect(notHis.status).toBe(404);
    const notMine = await call('PUT', `/projects/${bobProject}/repository`, aliceToken, {
      installationId: orgInst.id,
      repositoryId: repos[0]!.id,
    });
    expect(notMine.status).toBe(404);
    const [row] = await db.admin`select github_repository_id from public.projects where id = ${bobProject}`;
    expect(row!.github_repository_id).toBeNull();
  });
});

describe('unlinking', () => {
  it("refuses another user's link, then unlinks and detaches the user's projects", async () => {
    expect((await call('DELETE', `/installations/${orgInst.id}`, bobToken)).status).toBe(404);
    const project = await createProject(db.admin, alice);
    await call('PUT', `/projects/${project}/repository`, aliceToken, {
      installationId: orgInst.id,
      repositoryId: repos[2]!.id,
    });
    expect((await call('DELETE', `/installations/${orgInst.id}`, aliceToken)).status).toBe(204);
    expect(await linkedRows(alice)).toHaveLength(0);
    const [row] = await db.admin`select github_repository_id from public.projects where id = ${project}`;
    expect(row!.github_repository_id).toBeNull();
    expect((await call('GET', `/installations/${orgInst.id}/repositories`, aliceToken)).status).toBe(404);
  });

  it('answers 503 in words when the operator has not configured GitHub', async () => {
    const off = createGitHubApp({ sql, github: null, verifyUser: async () => ({ sub: alice, role: 'authenticated' }) });
    const r = await call('GET', '/installations', aliceToken, undefined, off);
    expect(r.status).toBe(503);
    expect(r.json.error.message).toBe('GitHub is not configured on this SAM');
  });
});
