/**
 * SAM on a phone, as an installed app, in a real Chromium against the whole local stack (Auth,
 * PostgREST, Realtime, the functions, the orchestrator, a local machine running the demo agent):
 * at 375×812 a user signs up, starts a task and watches it stream, and no page is wider than the
 * screen; the composer's microphone fills the message where the browser recognises speech and is
 * absent where it does not; the web manifest is linked and valid, the service worker installs,
 * caches the shell (and nothing of Supabase's), and serves it on a reload with no network at all,
 * where the app says it is offline and still knows who is signed in (the session is in cookies).
 */
import type { BrowserContext, BrowserContextOptions, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const stack = useFunctionsStack('capability_phone', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '10' } },
});
const browser = useBrowser();
let site: WebSite;
const contexts: BrowserContext[] = [];
const repo = makeWorkingRepo('pocket');
const EMAIL = 'phone@example.com';
const PASSWORD = 'correct horse battery';
const PHONE = { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 };

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
}, 180_000); // the web build (vite) is slow on a busy machine

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await site?.close();
});

async function newPage(options: BrowserContextOptions = {}): Promise<Page> {
  const context = await browser.browser.newContext(options);
  context.setDefaultTimeout(30_000);
  contexts.push(context);
  return context.newPage();
}

/** The page's layout width: more than the viewport means the user can scroll sideways. */
const pageWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

/** Rejects with what did not happen when `work` takes longer than `ms`. */
function within<T>(what: string, work: Promise<T>, ms = 30_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms))),
  ]);
}

async function signIn(page: Page): Promise<void> {
  await page.goto(site.url);
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
}

/** A fake `webkitSpeechRecognition` (the only speech recognition left) that hears one sentence each time it starts. */
const FAKE_SPEECH = `(() => {
  window.__listened = 0;
  delete window.SpeechRecognition; // so the prefixed one, Chromium's name, is the one used
  window.webkitSpeechRecognition = class {
    constructor() { this.onresult = null; this.onerror = null; this.onend = null; }
    start() {
      window.__listened += 1;
      setTimeout(() => {
        const alternative = [{ transcript: 'add a health check endpoint', confidence: 0.9 }];
        alternative.isFinal = true;
        this.onresult?.({ resultIndex: 0, results: [alternative] });
        this.onend?.();
      }, 20);
    }
    stop() { this.onend?.(); }
    abort() {}
  };
})();`;

/** A browser without speech recognition (Chromium has `webkitSpeechRecognition` of its own). */
const NO_SPEECH = `(() => { delete window.SpeechRecognition; delete window.webkitSpeechRecognition; })();`;

describe('SAM on a phone', () => {
  it('signs up, starts a task and watches it stream at 375 px wide, never scrolling sideways', async () => {
    const page = await newPage(PHONE);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(site.url);
    await page.getByRole('heading', { name: 'Sign in to SAM' }).waitFor();
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);

    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);
    // The top bar fits: every link and the sign-out button are inside the screen.
    for (const name of ['Machines', 'Settings']) {
      const box = (await page.getByRole('link', { name }).boundingBox())!;
      expect(box.x + box.width).toBeLessThanOrEqual(375);
    }
    const signOut = (await page.getByRole('button', { name: 'Sign out' }).boundingBox())!;
    expect(signOut.x + signOut.width).toBeLessThanOrEqual(375);

    await page.getByLabel('Name').fill('pocket');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();

    // The project's chat: the task list folds behind "Tasks", the composer is right there.
    const composer = page.getByRole('textbox', { name: 'Message' });
    await composer.waitFor();
    expect(await page.getByRole('heading', { name: 'pocket' }).isVisible()).toBe(false);
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);
    const message = 'Note the phone in README.md';
    await composer.tap();
    await composer.fill(message);
    const start = page.getByRole('button', { name: 'Start task' });
    const box = (await start.boundingBox())!;
    expect(box.x >= 0 && box.x + box.width <= 375).toBe(true);
    await start.tap();
    await page.getByRole('heading', { name: message }).waitFor();

    // The agent's messages stream in, then the task completes.
    await page.locator('ol.messages > li.msg-assistant').first().waitFor({ timeout: 120_000 });
    await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 120_000 }).toBe('Completed');
    const said = async () =>
      (await page.locator('ol.messages > li.msg-assistant .msg-text').allTextContents()).join('');
    // The status can arrive before the last stored messages: wait for them, not a moment.
    await expect
      .poll(said, { timeout: 60_000 })
      .toContain('Done: appended "- Note the phone in README.md" to README.md.');
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);

    // "Tasks" unfolds the list with the task in it; picking it folds the list again.
    await page.getByRole('button', { name: 'Tasks' }).tap();
    const listed = page.getByRole('list', { name: 'Tasks' }).getByRole('link', { name: new RegExp(message) });
    await listed.waitFor();
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);
    await listed.tap();
    await page.getByRole('button', { name: 'Tasks' }).waitFor();
    expect(await page.getByRole('list', { name: 'Tasks' }).isVisible()).toBe(false);

    // Every other page fits too.
    for (const [link, heading] of [
      ['Settings', 'Settings'],
      ['Machines', 'Machines'],
    ] as const) {
      await page.getByRole('link', { name: link }).tap();
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      expect(await pageWidth(page), heading).toBeLessThanOrEqual(375);
    }
    await page.goBack();
    await page.goBack();
    await page.getByRole('button', { name: 'Tasks' }).tap();
    await page.getByRole('link', { name: 'Agent profiles' }).tap();
    await page.getByRole('link', { name: 'New profile' }).tap();
    await page.getByRole('heading', { name: 'New profile' }).waitFor();
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);

    // The inbox opens within the screen (a panel hanging off the left edge adds no scroll width).
    await page.getByRole('button', { name: /^Inbox/ }).tap();
    const panel = await page.getByRole('region', { name: 'Notifications' }).boundingBox();
    expect(panel!.x).toBeGreaterThanOrEqual(0);
    expect(panel!.x + panel!.width).toBeLessThanOrEqual(375);
    expect(errors).toEqual([]);
  }, 300_000);

  it('fills the composer from the microphone where the browser recognises speech, and shows no microphone where not', async () => {
    const page = await newPage(PHONE);
    await page.addInitScript(FAKE_SPEECH);
    await signIn(page);
    await page.getByRole('link', { name: /pocket/ }).tap();
    const composer = page.getByRole('textbox', { name: 'Message' });
    await composer.fill('Please');
    await page.getByRole('button', { name: 'Voice input' }).tap();
    await expect.poll(() => composer.inputValue()).toBe('Please add a health check endpoint');
    expect(await page.evaluate(() => (window as unknown as { __listened: number }).__listened)).toBe(1);
    // Heard, not sent: the user sends it.
    expect(await page.getByRole('button', { name: 'Start task' }).isEnabled()).toBe(true);
    expect(await pageWidth(page)).toBeLessThanOrEqual(375);

    const plain = await newPage(PHONE);
    await plain.addInitScript(NO_SPEECH);
    await signIn(plain);
    await plain.getByRole('link', { name: /pocket/ }).tap();
    await plain.getByRole('textbox', { name: 'Message' }).waitFor();
    expect(await plain.getByTestId('voice-input').count()).toBe(0);
  }, 120_000);

  it('is an installable app: a valid linked manifest, and a service worker that serves the shell offline', async () => {
    const page = await newPage();
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill('installer@example.com');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();

    // The manifest: linked from the page, served as a manifest, with what an install needs.
    const href = (await page.locator('link[rel="manifest"]').getAttribute('href'))!;
    const res = await page.request.get(new URL(href, site.url).href);
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toMatch(/^application\/manifest\+json/);
    const manifest = (await res.json()) as {
      name: string;
      short_name: string;
      start_url: string;
      scope: string;
      display: string;
      theme_color: string;
      background_color: string;
      icons: { src: string; sizes: string; type: string; purpose?: string }[];
    };
    expect(manifest).toMatchObject({ name: 'SAM — Simple Agent Manager', short_name: 'SAM', display: 'standalone' });
    expect(new URL(manifest.start_url, site.url).href).toBe(`${site.url}/`);
    expect(manifest.theme_color).toMatch(/^#[0-9a-f]{6}$/);
    expect(await page.locator('meta[name="theme-color"]').getAttribute('content')).toBe(manifest.theme_color);
    // Chromium installs with a 192 and a 512 px PNG; each icon is what it says it is.
    for (const size of [192, 512]) expect(manifest.icons.some((i) => i.sizes === `${size}x${size}`)).toBe(true);
    for (const icon of manifest.icons) {
      const file = await page.request.get(new URL(icon.src, site.url).href);
      expect(file.status(), icon.src).toBe(200);
      expect(file.headers()['content-type']).toBe(icon.type);
      if (icon.type === 'image/png') {
        const png = await file.body();
        expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
        expect(`${png.readUInt32BE(16)}x${png.readUInt32BE(20)}`).toBe(icon.sizes);
      }
    }

    // The service worker: served as JavaScript for the root scope, installed, controlling the page.
    const sw = await page.request.get(`${site.url}/sw.js`);
    expect(sw.headers()['content-type']).toMatch(/javascript/);
    expect(sw.headers()['service-worker-allowed']).toBe('/');
    expect(sw.headers()['cache-control']).toBe('no-store');
    const registration = await within(
      'the service worker to activate',
      page.evaluate(async () => {
        const r = await navigator.serviceWorker.ready;
        return { scope: r.scope, script: r.active?.scriptURL };
      }),
    );
    expect(registration).toEqual({ scope: `${site.url}/`, script: `${site.url}/sw.js` });
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);

    // The cache holds this build's shell, and nothing from Supabase (the page has used it by now).
    await page
      .getByText(/No projects yet|pocket/)
      .first()
      .waitFor();
    const cached = await within(
      'the caches to be read',
      page.evaluate(async () => {
        const names = await caches.keys();
        const urls = await Promise.all(names.map(async (n) => (await (await caches.open(n)).keys()).map((r) => r.url)));
        return { names, urls: urls.flat() };
      }),
    );
    expect(cached.names).toHaveLength(1);
    expect(cached.names[0]).toMatch(/^sam-shell-[0-9a-f]{16}$/);
    expect(cached.urls).toContain(`${site.url}/index.html`);
    expect(cached.urls).toContain(`${site.url}/config.json`);
    expect(cached.urls.some((u) => /\/assets\/index-[\w-]+\.js$/.test(u))).toBe(true);
    expect(cached.urls.filter((u) => !u.startsWith(`${site.url}/`))).toEqual([]);
    expect(cached.urls.filter((u) => /\/(auth|rest|realtime|functions)\/v1\//.test(u))).toEqual([]);

    // No network at all: the browser is offline and the web server is gone. A reload still starts
    // the app from the worker's copy, says it is offline, and knows who is signed in.
    await page.context().setOffline(true);
    await within('the web server to stop', site.close());
    expect(
      await fetch(`${site.url}/`).then(
        () => 'answered',
        () => 'refused',
      ),
    ).toBe('refused');
    await page.reload();
    await page.getByTestId('offline-notice').waitFor();
    expect(await page.getByTestId('offline-notice').textContent()).toContain('You are offline');
    await page.getByRole('link', { name: 'SAM', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await page.getByText('installer@example.com').isVisible()).toBe(true);
  }, 120_000);
});
