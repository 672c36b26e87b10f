/**
 * GitHub, as a user meets it, in a real Chromium: sign in with GitHub (Auth's GitHub provider
 * against the fake GitHub's OAuth page), link the App installation (GitHub's install page → the
 * Setup URL → SAM checks the user's own GitHub token lists it), pick a private repository in the
 * picker (second page), submit a task; the demo agent's commit is pushed to the fake's real
 * `git http-backend` with a minted installation token, the orchestrator opens the pull request on
 * the fake, and the chat shows its number and link. Every SAM part is real (Auth stand-in,
 * PostgREST, Realtime, the functions under Deno, pg_net, the local machine host, git).
 */
import { execFileSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { DEMO_GREETING } from '../../vm-agent/demo-agent/scenario.ts';
import { FakeGitHub, type FakeUser } from '../fakes/github/server.ts';
import type { Installation, Repo } from '../fakes/github/shapes.ts';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { printMachineLogs } from './support.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

let fake: FakeGitHub;
let dev: FakeUser;
let repo: Repo;
let inst: Installation;
const GITHUB_SECRETS = [
  'GITHUB_APP_ID',
  'GITHUB_APP_CLIENT_ID',
  'GITHUB_APP_CLIENT_SECRET',
  'GITHUB_APP_PRIVATE_KEY',
  'GITHUB_APP_SLUG',
  'GITHUB_API_URL',
  'GITHUB_WEB_URL',
];

// Before the stack starts: the fake GitHub, the App's secrets for the functions, and machines that
// may clone over http (the fake listens on loopback without TLS).
beforeAll(async () => {
  fake = await FakeGitHub.start();
  const org = fake.addAccount('acme', 'Organization');
  // 31 other repositories first, so the one to pick is on the picker's second page.
  for (let i = 0; i < 31; i++) fake.addRepository(org, `lib-${String(i).padStart(2, '0')}`);
  repo = fake.addRepository(org, 'site');
  inst = fake.addInstallation(org);
  dev = fake.addUser('dev');
  fake.grant(dev, inst);
  fake.installTarget = inst;
  Object.assign(process.env, {
    GITHUB_APP_ID: String(fake.app.id),
    GITHUB_APP_CLIENT_ID: fake.app.clientId,
    GITHUB_APP_CLIENT_SECRET: fake.app.clientSecret,
    GITHUB_APP_PRIVATE_KEY: fake.app.privateKeyPem,
    GITHUB_APP_SLUG: fake.app.slug,
    GITHUB_API_URL: fake.url,
    GITHUB_WEB_URL: fake.url,
    SAM_LOCAL_REPO_PROTOCOLS: 'http,https,file',
  });
});

const stack = useFunctionsStack('github_pr', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '20' } },
  authGitHub: () => ({ clientId: fake.app.clientId, secret: fake.app.clientSecret, url: fake.url, apiUrl: fake.url }),
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
  fake.oauthCallbackUrls = [`${stack.url}/auth/v1/callback`];
  fake.setupUrl = `${site.url}/`;
  page = await browser.newPage();
}, 60_000);

afterAll(async () => {
  await site?.close();
  await fake?.close();
  for (const name of [...GITHUB_SECRETS, 'SAM_LOCAL_REPO_PROTOCOLS']) delete process.env[name];
});

/** On failure, what the machines said and where the tasks stood. */
function explainFailure(): void {
  onTestFailed(async () => {
    printMachineLogs(stack.machines.baseDir);
    console.log(
      await stack.db.admin`
      select title, status, execution_step, branch, pr_number, pr_url, pr_state, error_message from public.tasks`,
    );
    console.log(await stack.db.admin`select kind, status, attempts, last_error from public.orchestrator_jobs`);
    console.log(fake.log.slice(-40));
    console.log(
      page.url(),
      page.errors,
      await page
        .locator('main')
        .innerText()
        .catch(() => ''),
    );
  });
}

const bare = (...args: string[]) =>
  execFileSync('git', ['--git-dir', fake.repoPath(repo), ...args], { encoding: 'utf8' }).trim();

describe('from "Sign in with GitHub" to a pull request', () => {
  it('signs in with GitHub, links the installation, picks a private repository, and the task ends in a PR shown in the chat', async () => {
    explainFailure();
    fake.signedIn = dev;

    // Sign in with GitHub: Auth → GitHub's authorize page (approves as dev) → Auth → back with a code.
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Sign in with GitHub' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    expect(new URL(page.url()).search).toBe('');
    const [user] = await stack.db.admin`
      select u.id, u.email from auth.users u join auth.identities i on i.user_id = u.id
      where i.provider = 'github' and i.provider_id = ${String(dev.account.id)}`;
    expect(user!.email).toBe(dev.email);

    // Link the installation: GitHub's install page sends the browser to the Setup URL, and SAM
    // links it only after the user's GitHub token lists it.
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Link a GitHub installation' }).click();
    await page.getByRole('status').filter({ hasText: 'Linked the GitHub installation on acme.' }).waitFor();
    await page.getByRole('list', { name: 'Linked GitHub installations' }).getByText('acme', { exact: true }).waitFor();
    expect(new URL(page.url()).search).toBe('');
    const links = await stack.db.admin`
      select installation_id from public.github_installations where owner_id = ${user!.id as string}`;
    expect(links.map((l) => Number(l.installation_id))).toEqual([inst.id]);

    // Pick the private repository on the picker's second page; the page is in the URL.
    await page.getByRole('link', { name: 'SAM' }).click();
    await page.getByRole('button', { name: 'Choose a repository from acme' }).click();
    const picker = page.getByRole('group', { name: 'GitHub repositories' });
    await picker.getByText('32 repositories · page 1').waitFor();
    await picker.getByRole('button', { name: 'Next' }).click();
    await picker.getByText('page 2').waitFor();
    expect(new URL(page.url()).hash).toBe(`#/?pick=${inst.id}&page=2`);
    await picker.getByRole('button', { name: 'acme/site' }).click();
    expect(await page.getByLabel('Name').inputValue()).toBe('site');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'site' }).waitFor();
    const [project] = await stack.db.admin`
      select github_repository_id, github_installation_id, github_full_name, repository from public.projects`;
    expect(project).toMatchObject({
      github_repository_id: String(repo.id),
      github_installation_id: String(inst.id),
      github_full_name: 'acme/site',
      repository: `${fake.url}/acme/site.git`,
    });

    // A task: the demo agent's commit is pushed with a minted token and the PR is opened.
    await page.getByLabel('Message').fill('add a greeting to README');
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.getByRole('heading', { name: 'add a greeting to README' }).waitFor();
    await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 120_000 }).toBe('Completed');
    const link = page.getByTestId('task-pr');
    await link.waitFor({ timeout: 60_000 });
    expect(await link.textContent()).toBe('#1');
    expect(await link.getAttribute('href')).toBe(`${fake.url}/acme/site/pull/1`);

    const branch = (await page.getByTestId('task-branch').textContent())!;
    expect(branch).toMatch(/^sam\//);
    expect(bare('show', `${branch}:README.md`)).toContain(DEMO_GREETING);
    expect(bare('show', 'main:README.md')).not.toContain(DEMO_GREETING);
    const [pull] = fake.pulls;
    expect(pull).toMatchObject({ number: 1, headRef: branch, baseRef: 'main', state: 'open' });
    expect(pull!.headSha).toBe(bare('rev-parse', branch));
    // The push came with a token GitHub minted for this repository alone.
    const pushes = fake.log.filter((l) => l.path === '/acme/site.git/git-receive-pack');
    expect(pushes.map((l) => l.status)).toContain(200);
    const minted = [...fake.tokens.values()].filter((t) => t.permissions.contents === 'write');
    expect(minted.length).toBeGreaterThan(0);
    expect(minted.every((t) => JSON.stringify(t.repositoryIds) === JSON.stringify([repo.id]))).toBe(true);
    expect(page.errors).toEqual([]);
  }, 240_000);
});
