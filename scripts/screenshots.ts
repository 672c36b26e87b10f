/**
 * Screenshots of the web app's main views at 1280×800 and 375×812 into docs/screenshots/, and
 * docs/screens.md showing them. Starts the whole local stack (a fresh test database, every
 * service, a local machine running the demo agent), serves a fresh build, signs a user up, runs a
 * demo-agent task, then opens each view of {@link VIEWS} in Chromium. Everything it starts is
 * stopped at the end, also when it fails.
 *
 *   SAM_HOME=/work/main/.sam npx tsx scripts/screenshots.ts      (cluster: `scripts/sam db start`)
 *
 * Add a view by adding an entry to VIEWS; an `optional` one (a view another branch brings) is
 * skipped with a note when its page does not show up.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { paths } from '../supabase/local/paths.ts';
import { closeBrowser, launchBrowser } from '../tests/helpers/browser.ts';
import { startFunctionsStack, type RunningFunctionsStack } from '../tests/helpers/local-stack.ts';
import { makeWorkingRepo } from '../tests/helpers/user-client.ts';
import setupTemplate from '../tests/setup/global.ts';
import { serveWeb, type WebSite } from '../tests/web/site.ts';

/** What the views need: the demo user's project and its completed task. */
interface Demo {
  projectId: string;
  taskId: string;
}

interface View {
  /** The file name stem: docs/screenshots/<name>-<width>.png */
  name: string;
  title: string;
  /** Where the view is, relative to the site (path, query and hash). */
  url(demo: Demo): string;
  /** Resolves once the view shows what it should. */
  ready(page: Page): Promise<void>;
  /** Brought by another branch: skipped (with a note) when it does not show up. */
  optional?: boolean;
}

const heading = (name: string | RegExp) => (page: Page) =>
  page
    .getByRole('heading', { name, exact: typeof name === 'string' })
    .first()
    .waitFor();

const VIEWS: View[] = [
  { name: 'projects', title: 'Projects', url: () => '/#/', ready: heading('Projects') },
  {
    name: 'project-chat',
    title: 'A project’s chat with a finished task',
    url: (d) => `/#/p/${d.projectId}/t/${d.taskId}`,
    ready: async (page) => {
      await page.locator('[data-channel="live"]').waitFor();
      await page.getByTestId('task-outcome').waitFor();
    },
  },
  {
    name: 'profiles',
    title: 'Agent profiles',
    url: (d) => `/#/p/${d.projectId}/profiles`,
    ready: (page) => page.locator('li.profile').first().waitFor(),
  },
  {
    name: 'profile-editor',
    title: 'A new agent profile',
    url: (d) => `/#/p/${d.projectId}/profiles?edit=new`,
    ready: heading('New profile'),
  },
  {
    name: 'settings',
    title: 'Settings: model keys, cloud tokens, GitHub',
    url: () => '/#/settings',
    ready: (page) => page.locator('li.credential').first().waitFor(),
  },
  {
    name: 'machines',
    title: 'Machines',
    url: () => '/#/nodes',
    ready: (page) => page.locator('table.node-list tbody tr').first().waitFor(),
  },
  {
    name: 'ideas',
    title: 'Ideas board',
    url: (d) => `/#/p/${d.projectId}/ideas`,
    ready: heading(/ideas/i),
  },
  {
    name: 'inbox',
    title: 'Inbox',
    url: (d) => `/?inbox#/p/${d.projectId}/t/${d.taskId}`,
    ready: (page) => page.getByRole('region', { name: 'Notifications' }).waitFor(),
  },
];

const VIEWPORTS = [
  { width: 1280, height: 800, label: 'desktop', isMobile: false },
  { width: 375, height: 812, label: 'phone', isMobile: true },
] as const;

const OUT = join(paths.root, 'docs', 'screenshots');
const EMAIL = 'ada@example.com';

/** Signs the demo user up, makes a project and a profile, runs a demo-agent task to completion. */
async function prepare(context: BrowserContext, site: WebSite): Promise<Demo> {
  const page = await context.newPage();
  await page.goto(site.url);
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(EMAIL);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  await page.getByLabel('Name').fill('greeter');
  await page.getByLabel('Git repository (a local path or a URL)').fill(makeWorkingRepo('greeter'));
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('heading', { name: 'greeter' }).waitFor();

  await page.getByRole('link', { name: 'Agent profiles' }).click();
  await page.getByRole('link', { name: 'New profile' }).click();
  const form = page.locator('form.profile-form');
  await form.getByLabel('Name').fill('careful reviewer');
  await form.getByLabel('Description (optional)').fill('Reads the change and asks before editing');
  await form.getByLabel('Permissions').selectOption('ask');
  await form.getByRole('button', { name: 'Save profile' }).click();
  await page.locator('li.profile').first().waitFor();
  await page.getByRole('link', { name: '← greeter' }).click();

  const message = 'Add a friendly greeting to README.md';
  await page.getByLabel('Message').fill(message);
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.getByRole('heading', { name: message }).waitFor();
  await page.getByTestId('task-outcome').waitFor({ timeout: 180_000 });
  const [, projectId, taskId] = /#\/p\/([0-9a-f-]{36})\/t\/([0-9a-f-]{36})/.exec(page.url()) ?? [];
  if (!projectId || !taskId) throw new Error(`no task in the URL: ${page.url()}`);
  await page.close();
  return { projectId, taskId };
}

async function shoot(browser: Browser, signedIn: BrowserContext, site: WebSite, demo: Demo): Promise<string[]> {
  const notes: string[] = [];
  const cookies = await signedIn.cookies(site.url);
  for (const viewport of VIEWPORTS) {
    // The session is in cookies: a new context with them is the same signed-in user.
    const context = await browser.newContext({
      viewport: { width: viewport.width, height: viewport.height },
      isMobile: viewport.isMobile,
      hasTouch: viewport.isMobile,
      colorScheme: 'light',
      serviceWorkers: 'block',
    });
    await context.addCookies(cookies);
    const page = await context.newPage();
    for (const view of VIEWS) {
      await page.goto(`${site.url}${view.url(demo)}`);
      // A view another branch brings either shows up soon or is not on this build.
      page.setDefaultTimeout(view.optional ? 10_000 : 60_000);
      try {
        await view.ready(page);
      } catch (e) {
        if (!view.optional) throw e;
        notes.push(`${view.name}: not on this build, skipped`);
        continue;
      }
      // Fonts and layout settle before the picture (no animations in the app).
      await page.evaluate(() => document.fonts.ready.then(() => undefined));
      await page.screenshot({ path: join(OUT, `${view.name}-${viewport.width}.png`) });
    }
    await context.close();
  }
  return notes;
}

function writeIndex(): void {
  const shot = (name: string, width: number) => `${name}-${width}.png`;
  const have = new Set(readdirSync(OUT));
  const sections = VIEWS.filter((v) => VIEWPORTS.every((p) => have.has(shot(v.name, p.width)))).map(
    (v) =>
      `## ${v.title}\n\n` +
      `![${v.title} at 1280 px](screenshots/${shot(v.name, 1280)})\n` +
      `<img src="screenshots/${shot(v.name, 375)}" alt="${v.title} at 375 px" width="300">\n`,
  );
  writeFileSync(
    join(paths.root, 'docs', 'screens.md'),
    `# Screens\n\n` +
      `The web app's main views, at 1280×800 and on a phone (375×812), with a demo user whose ` +
      `demo-agent task has finished. Made by [scripts/screenshots.ts](../scripts/screenshots.ts) ` +
      `against the local stack; run it again after changing a view (the list of views is at its top).\n\n` +
      sections.join('\n'),
  );
}

async function main(): Promise<void> {
  const teardown = await setupTemplate();
  let stack: RunningFunctionsStack | undefined;
  let site: WebSite | undefined;
  let browser: Browser | undefined;
  try {
    stack = await startFunctionsStack('screenshots', {
      allServices: true,
      machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '10' } },
    });
    site = await serveWeb(stack.url, stack.publishableKey);
    browser = await launchBrowser();
    const signedIn = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const demo = await prepare(signedIn, site);
    rmSync(OUT, { recursive: true, force: true });
    mkdirSync(OUT, { recursive: true });
    const notes = await shoot(browser, signedIn, site, demo);
    writeIndex();
    for (const note of notes) console.log(note);
    console.log(`screenshots in ${OUT}, index in docs/screens.md`);
  } finally {
    if (browser) await closeBrowser(browser);
    await site?.close();
    await stack?.close();
    teardown();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
