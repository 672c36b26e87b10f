/**
 * The notifications inbox, as a user meets it in a real Chromium against the whole local stack: a
 * task finishes while the user looks at another task, and its notification arrives live (count and
 * entry, no reload) and, with the tab hidden, as a browser notification; the entry opens its task and
 * is read; "Mark all read" clears the count; the open inbox is in the URL and survives a reload.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { printMachineLogs } from './support.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const stack = useFunctionsStack('capability_inbox', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '10' } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
const repo = makeWorkingRepo('noticed');

type Shown = { title: string; body: string | undefined };
declare global {
  interface Window {
    __shown: Shown[];
    __notReloaded?: boolean;
  }
}

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
  page = await browser.newPage();
  await page.context().grantPermissions(['notifications'], { origin: new URL(site.url).origin });
  // Every browser notification the app shows is recorded (then shown by the real API).
  await page.addInitScript(() => {
    const shown: { title: string; body: string | undefined }[] = [];
    (window as unknown as { __shown: typeof shown }).__shown = shown;
    const Real = window.Notification;
    class Recording extends Real {
      constructor(title: string, options?: NotificationOptions) {
        shown.push({ title, body: options?.body });
        super(title, options);
      }
      static get permission() {
        return Real.permission;
      }
      static requestPermission = Real.requestPermission.bind(Real);
    }
    window.Notification = Recording;
  });
}, 60_000);

afterAll(async () => {
  await site?.close();
});

function explainFailure(): void {
  onTestFailed(async () => {
    printMachineLogs(stack.machines.baseDir);
    console.log(await stack.db.admin`select title, status, execution_step, error_message from public.tasks`);
    console.log(await stack.db.admin`select type, title, read_at from public.notifications order by created_at`);
  });
}

async function submit(message: string): Promise<string> {
  await page.getByLabel('Message').fill(message);
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.getByRole('heading', { name: message }).waitFor();
  await expect.poll(() => new URL(page.url()).hash).toMatch(/\/t\//);
  return new URL(page.url()).hash;
}

const count = async () => {
  const badge = page.getByTestId('inbox-count');
  return (await badge.count()) ? Number(await badge.textContent()) : 0;
};

describe('the notifications inbox', () => {
  it('a task finishing while another is open: live in the inbox, and a browser notification while hidden', async () => {
    explainFailure();
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill('inbox@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByLabel('Name').fill('noticed');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'noticed' }).waitFor();
    expect(await count()).toBe(0);

    const first = await submit('Note A in README.md');
    await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 120_000 }).toBe('Completed');
    await expect.poll(count, { timeout: 30_000 }).toBeGreaterThan(0);
    const before = await count();

    // A long task starts; the user goes back to the first one, and the tab is hidden.
    const long = 'Note B in README.md [stream:1500]';
    await submit(long);
    await page.evaluate((hash) => {
      window.__notReloaded = true;
      location.hash = hash;
    }, first);
    await page.getByRole('heading', { name: 'Note A in README.md' }).waitFor();
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    expect(await page.evaluate(() => window.__shown.length)).toBe(0);

    await expect.poll(count, { timeout: 120_000 }).toBe(before + 1);
    expect(await page.evaluate(() => window.__notReloaded)).toBe(true);
    expect(await page.getByRole('heading', { name: 'Note A in README.md' }).count()).toBe(1);
    expect(await page.evaluate(() => window.__shown)).toEqual([
      { title: `Task completed: ${long}`, body: expect.stringContaining('Done: appended "- Note B in README.md"') },
    ]);

    // Visible again: the inbox lists both, newest first, unread.
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.getByRole('button', { name: /^Inbox/ }).click();
    expect(new URL(page.url()).searchParams.has('inbox')).toBe(true);
    const items = page.getByTestId('inbox-item');
    await expect.poll(() => items.count()).toBe(before + 1);
    expect(await items.nth(0).locator('.inbox-what').textContent()).toBe('Task completed');
    expect(await items.nth(0).locator('.inbox-title').textContent()).toBe(long);
    expect(await items.filter({ hasText: 'Note A in README.md' }).count()).toBeGreaterThan(0);
    expect(await items.nth(0).getAttribute('data-read')).toBe('false');

    // The entry opens its task and is read.
    await items
      .nth(0)
      .getByRole('button', { name: new RegExp(`^Task completed`) })
      .click();
    await page.getByRole('heading', { name: long }).waitFor();
    expect(new URL(page.url()).searchParams.has('inbox')).toBe(false);
    await expect.poll(count).toBe(before);
    const read = await stack.db.admin`select title from public.notifications where read_at is not null`;
    expect(read.map((r) => r.title)).toEqual([long]);
    expect(page.errors).toEqual([]);
  }, 300_000);

  it('"Mark all read" clears the count, and the open inbox survives a reload', async () => {
    explainFailure();
    await page.getByRole('button', { name: /^Inbox/ }).click();
    const listed = await page.getByTestId('inbox-item').count();
    expect(listed).toBeGreaterThan(1);
    await page.getByRole('button', { name: 'Mark all read' }).click();
    await expect.poll(count).toBe(0);
    await expect
      .poll(
        async () =>
          (
            await stack.db.admin`select count(*)::int as n from public.notifications
        where read_at is null and type <> 'progress'`
          )[0]!.n,
      )
      .toBe(0);
    await page.reload();
    await page.getByRole('region', { name: 'Notifications' }).waitFor();
    await expect.poll(() => page.getByTestId('inbox-item').count()).toBe(listed);
    expect(
      await page.getByTestId('inbox-item').evaluateAll((els) => els.map((e) => e.getAttribute('data-read'))),
    ).toEqual(Array(listed).fill('true'));
    expect(await count()).toBe(0);
    expect(page.errors).toEqual([]);
  }, 60_000);
});
