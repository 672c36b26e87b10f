/**
 * A URL copied out of one browser shows the same view in another, in a real Chromium against the
 * whole local stack with the demo agent: a task open in a project, a profile's editor, an open
 * credential form. The session lives in cookies (`@supabase/ssr`), not in localStorage: a new
 * browser context given the same cookies lands signed in on the copied view; one without them
 * signs in and lands on it; a reload keeps the session; signing out clears the cookies.
 */
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const stack = useFunctionsStack('capability_shared_url', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '10' } },
});
const browser = useBrowser();
let site: WebSite;
const contexts: BrowserContext[] = [];
const repo = makeWorkingRepo('linked');
const EMAIL = 'sharer@example.com';
const PASSWORD = 'correct horse battery';
const MESSAGE = 'Note the link in README.md';
const SESSION_COOKIE = /^sb-[\w-]+-auth-token(\.\d+)?$/;

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
}, 180_000); // the web build (vite) is slow on a busy machine

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await site?.close();
});

async function newContext(): Promise<{ context: BrowserContext; page: Page & { errors: string[] } }> {
  const context = await browser.browser.newContext();
  contexts.push(context);
  const page = (await context.newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  return { context, page };
}

/** What the task view shows: its title, status, and the conversation's text. */
async function taskView(page: Page) {
  await page.getByTestId('task-status').waitFor();
  return {
    title: await page.locator('#task-title').textContent(),
    status: await page.getByTestId('task-status').textContent(),
    current: await page.locator('ul.task-list a[aria-current="page"]').getAttribute('data-task-id'),
    // Each row's text without its Fork action.
    messages: await page.locator('ol.messages > li').evaluateAll((rows) =>
      rows.map((li) => {
        const row = li.cloneNode(true) as HTMLElement;
        row.querySelectorAll('.fork-action').forEach((b) => b.remove());
        return row.textContent ?? '';
      }),
    ),
  };
}

/** The session cookies, and what localStorage holds that looks like a token. */
async function sessionStore(context: BrowserContext, page: Page) {
  const cookies = (await context.cookies(site.url)).filter((c) => SESSION_COOKIE.test(c.name));
  const storage = await page.evaluate(() => JSON.stringify({ ...localStorage, ...sessionStorage }));
  return { cookies, storage };
}

let taskUrl = '';
let profileUrl = '';
let openUrl = '';
let settingsUrl = '';
let shown: Awaited<ReturnType<typeof taskView>>;
let first: Awaited<ReturnType<typeof newContext>>;

describe('a copied URL in a new browser context', () => {
  it('is made of views in the URL: a task, a profile editor, a credential form; the session is in cookies', async () => {
    first = await newContext();
    const { page } = first;
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByLabel('Name').fill('linked');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'linked' }).waitFor();

    await page.getByRole('textbox', { name: 'Message' }).fill(MESSAGE);
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.getByRole('heading', { name: MESSAGE }).waitFor();
    await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 120_000 }).toBe('Completed');
    // The conversation is whole once the agent's turn has ended.
    await page.locator('ol.messages > li.msg-system').filter({ hasText: 'Turn ended: end_turn' }).waitFor();
    // ... and the branch's diff, recorded just before the task reports complete, has arrived.
    await page
      .locator('ol.messages > li')
      .filter({ hasText: /^Changes on sam\// })
      .waitFor();
    taskUrl = page.url();
    expect(new URL(taskUrl).hash).toMatch(/^#\/p\/[0-9a-f-]{36}\/t\/[0-9a-f-]{36}$/);
    shown = await taskView(page);
    expect(shown.messages.join('')).toContain('Done: appended "- Note the link in README.md" to README.md.');

    // A panel and the fork form open in place, and the URL says so.
    await page.locator('summary', { hasText: 'Machine defaults' }).click();
    await expect.poll(() => new URL(page.url()).hash).toContain('panel=machine');
    await page.locator('ol.messages > li.msg-assistant').first().getByTestId('fork-message').click();
    await page.getByRole('form', { name: 'Fork from this message' }).waitFor();
    openUrl = page.url();
    expect(new URL(openUrl).hash).toMatch(/^#\/p\/[0-9a-f-]{36}\/t\/[0-9a-f-]{36}\?panel=machine&fork=\d+$/);
    // Closing them takes them out of the URL.
    await page.getByRole('form', { name: 'Fork from this message' }).getByRole('button', { name: 'Cancel' }).click();
    await page.locator('summary', { hasText: 'Machine defaults' }).click();
    await expect.poll(() => new URL(page.url()).hash).toBe(new URL(taskUrl).hash);

    await page.getByRole('link', { name: 'Agent profiles' }).click();
    await page.getByRole('link', { name: 'New profile' }).click();
    const form = page.locator('form.profile-form');
    await form.getByLabel('Name').fill('reviewer');
    await form.getByLabel('Model (optional)').fill('review-model');
    await form.getByRole('button', { name: 'Save profile' }).click();
    await page.getByRole('link', { name: 'Edit reviewer' }).click();
    await page.getByRole('heading', { name: 'Edit “reviewer”' }).waitFor();
    profileUrl = page.url();
    expect(new URL(profileUrl).hash).toMatch(/\/profiles\?edit=[0-9a-f-]{36}$/);

    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('button', { name: 'Set Anthropic' }).click();
    await page.getByLabel('Anthropic key').waitFor();
    settingsUrl = page.url();
    expect(new URL(settingsUrl).hash).toBe('#/settings?set=anthropic');
    // Cancel closes the form and the URL says so; Back opens it again.
    await page.getByRole('button', { name: 'Cancel' }).click();
    await page.getByLabel('Anthropic key').waitFor({ state: 'detached' });
    expect(new URL(page.url()).hash).toBe('#/settings');
    await page.goBack();
    await page.getByLabel('Anthropic key').waitFor();

    // The session: in cookies, not in Web Storage.
    const store = await sessionStore(first.context, page);
    expect(store.cookies.length).toBeGreaterThan(0);
    expect(store.cookies.every((c) => c.path === '/' && c.sameSite === 'Lax' && !c.secure)).toBe(true);
    expect(store.storage).not.toMatch(/access_token|refresh_token|auth-token/);
    expect(page.errors).toEqual([]);
  }, 300_000);

  it('opens the same views in a new context holding the same cookies, and keeps them across a reload', async () => {
    const { context, page } = await newContext();
    await context.addCookies(await first.context.cookies(site.url));
    await page.goto(taskUrl);
    await expect.poll(() => taskView(page)).toEqual(shown);
    await page.locator('[data-channel="live"]').waitFor();
    await page.reload();
    await expect.poll(() => taskView(page)).toEqual(shown);

    await page.goto(openUrl);
    await page.getByRole('form', { name: 'Fork from this message' }).waitFor();
    expect(await page.locator('details.machine-settings:not(.budget-settings)').getAttribute('open')).not.toBeNull();
    expect(await page.locator('details.budget-settings').getAttribute('open')).toBeNull();

    await page.goto(profileUrl);
    await page.getByRole('heading', { name: 'Edit “reviewer”' }).waitFor();
    expect(await page.locator('form.profile-form').getByLabel('Model (optional)').inputValue()).toBe('review-model');

    await page.goto(settingsUrl);
    await page.getByLabel('Anthropic key').waitFor();

    // Signing out here clears this context's session cookies, and the page asks to sign in again.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to SAM' }).waitFor();
    expect((await sessionStore(context, page)).cookies).toEqual([]);
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to SAM' }).waitFor();
    expect(page.errors).toEqual([]);
  }, 120_000);

  it('opens the same view in a fresh context once the user signs in there', async () => {
    const { context, page } = await newContext();
    await page.goto(taskUrl);
    await page.getByRole('heading', { name: 'Sign in to SAM' }).waitFor();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expect.poll(() => taskView(page)).toEqual(shown);
    expect(page.url()).toBe(taskUrl);
    const store = await sessionStore(context, page);
    expect(store.cookies.length).toBeGreaterThan(0);
    expect(store.storage).not.toMatch(/access_token|refresh_token|auth-token/);
    expect(page.errors).toEqual([]);
  }, 120_000);
});
