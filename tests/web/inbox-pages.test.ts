import { createClient } from '@supabase/supabase-js';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import NodeWebSocket from 'ws';
import { useBrowser } from '../helpers/browser.ts';
import { useTestStack } from '../helpers/local-stack.ts';
import { serveWeb, TRACK_SOCKETS, type WebSite } from './site.ts';

/**
 * The inbox of a user with more notifications than one page, in a real Chromium against a test
 * stack: the badge counts every unread one (not only the loaded, never another user's, never a
 * progress line), "Show older" reads the rest once each and then goes away, a live notification and
 * one missed while the socket was cut count once, and "Mark all read" clears loaded and unloaded.
 * Notifications marked read elsewhere (the user's other device) leave the badge live, loaded or not.
 */
const t = useTestStack({ emailConfirmation: false }, 'web_inbox_pages');
const browser = useBrowser();
let site: WebSite;

declare global {
  interface Window {
    __sockets: WebSocket[];
    __notReloaded?: boolean;
  }
}

beforeAll(async () => {
  site = await serveWeb(t.url, t.publishableKey);
}, 60_000);

afterAll(async () => {
  await site?.close();
});

const count = async (page: Page) => {
  const badge = page.getByTestId('inbox-count');
  return (await badge.count()) ? Number(await badge.textContent()) : 0;
};
const signUp = async (page: Page, email: string) => {
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
};
const titles = (page: Page) => page.locator('[data-testid="inbox-item"] .inbox-title').allTextContents();

it('counts every unread notification, shows older pages once each, and marks all of them read', async () => {
  const page = await browser.newPage();
  await page.addInitScript(TRACK_SOCKETS);
  await page.goto(site.url);
  await signUp(page, 'pages@example.com');
  const [me] = await t.db.admin`select id from auth.users where email = 'pages@example.com'`;
  const [other] = await t.db.admin`insert into auth.users (id, email)
    values (gen_random_uuid(), 'other@example.com') returning id`;

  // Away from the app (so nothing arrives live): 60 notifications, one a second back from now, every
  // third read; four share a second across the end of the first page (the id orders them). Unread:
  // 40, six of them past the first page. Progress lines and another user's are never counted.
  await page.goto('about:blank');
  await t.db.admin`
    insert into public.notifications (owner_id, type, urgency, title, created_at, read_at)
    select ${me!.id}, 'task_complete', 'medium', 'note ' || lpad(i::text, 2, '0'),
           public.sam_now() - make_interval(secs => case when i between 49 and 52 then 49 else i end),
           case when i % 3 = 0 then public.sam_now() end
      from generate_series(1, 60) i`;
  await t.db.admin`
    insert into public.notifications (owner_id, type, urgency, title, created_at)
    select ${me!.id}, 'progress', 'low', 'progress ' || i, public.sam_now() - make_interval(secs => i * 10)
      from generate_series(1, 5) i`;
  await t.db.admin`
    insert into public.notifications (owner_id, type, urgency, title)
    select ${other!.id}, 'task_complete', 'medium', 'not yours ' || i from generate_series(1, 3) i`;
  const listed = async () =>
    (
      await t.db.admin`select title from public.notifications
        where owner_id = ${me!.id} and type <> 'progress' order by created_at desc, id desc`
    ).map((r) => r.title as string);

  await page.goto(site.url);
  await page.locator('[data-inbox-channel="live"]').waitFor();
  await expect.poll(() => count(page)).toBe(40);
  expect(await page.getByTestId('inbox-count').getAttribute('aria-label')).toBe('40 unread');

  // The first page, then the rest once each, in the server's order; then nothing older to show.
  await page.getByRole('button', { name: /^Inbox/ }).click();
  const older = page.getByRole('button', { name: 'Show older' });
  await expect.poll(() => titles(page)).toEqual((await listed()).slice(0, 50));
  await older.click();
  await expect.poll(() => titles(page)).toEqual(await listed());
  expect(new Set(await titles(page)).size).toBe(60);
  expect(await older.count()).toBe(0);
  expect(await count(page)).toBe(40);

  // Live: another user's notification never reaches this inbox; the user's own counts once.
  await t.db.admin`select public.sam_notify(${other!.id}, null, null, 'error', 'not yours either', '')`;
  await t.db.admin`select public.sam_notify(${me!.id}, null, null, 'task_complete', 'live one', '')`;
  await expect.poll(() => count(page)).toBe(41);
  expect((await titles(page))[0]).toBe('live one');
  expect(await page.getByTestId('inbox-item').count()).toBe(61);

  // The socket is cut and one arrives meanwhile: after the rejoin the first page and the count are
  // read again, and neither the live one nor the missed one counts twice.
  const cut = await page.evaluate(() => {
    const open = window.__sockets.filter((s) => s.readyState === WebSocket.OPEN);
    open.forEach((s) => s.close());
    return open.length;
  });
  expect(cut).toBeGreaterThan(0);
  await page.locator('[data-inbox-channel="reconnecting"]').waitFor({ timeout: 2000 });
  await t.db.admin`select public.sam_notify(${me!.id}, null, null, 'needs_input', 'while away', '')`;
  await page.locator('[data-inbox-channel="live"]').waitFor({ timeout: 10_000 });
  await expect.poll(() => titles(page)).toEqual((await listed()).slice(0, 50));
  expect((await titles(page))[0]).toBe('while away');
  expect(await count(page)).toBe(42);

  // An unread one past the first page, marked read: one less, in the database too.
  await older.click();
  await expect.poll(() => titles(page)).toEqual(await listed());
  expect(await older.count()).toBe(0);
  const note55 = page.getByTestId('inbox-item').filter({ hasText: 'note 55' });
  expect(await note55.getAttribute('data-read')).toBe('false');
  await note55.getByRole('button', { name: 'Mark read' }).click();
  await expect.poll(() => count(page)).toBe(41);
  expect(await note55.getAttribute('data-read')).toBe('true');
  await expect
    .poll(
      async () =>
        (await t.db.admin`select read_at from public.notifications where title = 'note 55'`)[0]!.read_at !== null,
    )
    .toBe(true);

  // Mark all read: loaded and not, the user's only; the count stays 0 after a reload.
  await page.getByRole('button', { name: 'Mark all read' }).click();
  await expect.poll(() => count(page)).toBe(0);
  const unread = async () =>
    (
      await t.db.admin`select owner_id = ${me!.id} as mine, count(*)::int as n from public.notifications
        where read_at is null and type <> 'progress' group by 1 order by 1`
    ).map((r) => ({ mine: r.mine as boolean, n: r.n as number }));
  await expect.poll(unread).toEqual([{ mine: false, n: 4 }]);
  await page.reload();
  await page.locator('[data-inbox-channel="live"]').waitFor();
  await expect.poll(() => titles(page)).toEqual((await listed()).slice(0, 50));
  expect(await count(page)).toBe(0);
  expect(await older.count()).toBe(1);
  expect(page.errors).toEqual([]);
}, 120_000);

it('lowers the badge live when notifications are marked read elsewhere, loaded or on a page not loaded', async () => {
  const page = await browser.newPage();
  await page.goto(site.url);
  await signUp(page, 'marks@example.com');
  const [me] = await t.db.admin`select id from auth.users where email = 'marks@example.com'`;

  // 55 unread, one a second back from now: the first page holds 50, the oldest five are not loaded.
  await page.goto('about:blank');
  await t.db.admin`
    insert into public.notifications (owner_id, type, urgency, title, created_at)
    select ${me!.id}, 'task_complete', 'medium', 'mark ' || lpad(i::text, 2, '0'),
           public.sam_now() - make_interval(secs => i)
      from generate_series(1, 55) i`;
  await page.goto(site.url);
  await page.locator('[data-inbox-channel="live"]').waitFor();
  await expect.poll(() => count(page)).toBe(55);
  await page.getByRole('button', { name: /^Inbox/ }).click();
  await expect.poll(async () => (await titles(page)).length).toBe(50);
  await page.evaluate(() => (window.__notReloaded = true));

  // The user's other device marks through its own REST path (the owner-only update of read_at).
  const other = createClient(t.url, t.publishableKey, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: NodeWebSocket as never },
  });
  const signedIn = await other.auth.signInWithPassword({
    email: 'marks@example.com',
    password: 'correct horse battery',
  });
  expect(signedIn.error).toBeNull();
  const markElsewhere = async (titles: string[]) => {
    const { data, error } = await other
      .from('notifications')
      .update({ read_at: new Date().toISOString() })
      .in('title', titles)
      .select('id');
    expect(error).toBeNull();
    expect(data).toHaveLength(titles.length);
  };

  // A loaded one: the badge drops by one and its entry shows read, without a reload.
  await markElsewhere(['mark 01']);
  await expect.poll(() => count(page)).toBe(54);
  const first = page.getByTestId('inbox-item').filter({ hasText: 'mark 01' });
  expect(await first.getAttribute('data-read')).toBe('true');

  // An older one on a page not loaded: only the server's count held it, and it drops too.
  await markElsewhere(['mark 53']);
  await expect.poll(() => count(page)).toBe(53);
  expect(await page.getByTestId('inbox-item').count()).toBe(50);

  // All at once but one loaded and one not loaded (one message; the two above again among them):
  // each drops once, so two stay.
  const all = Array.from({ length: 55 }, (_, i) => `mark ${String(i + 1).padStart(2, '0')}`);
  await markElsewhere(all.filter((title) => title !== 'mark 02' && title !== 'mark 55'));
  await expect.poll(() => count(page)).toBe(2);
  expect(await page.locator('[data-testid="inbox-item"][data-read="false"] .inbox-title').allTextContents()).toEqual([
    'mark 02',
  ]);
  expect(await page.evaluate(() => window.__notReloaded)).toBe(true);

  // The server says the same after a reload.
  await page.reload();
  await page.locator('[data-inbox-channel="live"]').waitFor();
  await expect.poll(() => page.getByTestId('inbox-item').count()).toBe(50);
  expect(await count(page)).toBe(2);
  await other.auth.signOut();
  expect(page.errors).toEqual([]);
}, 120_000);
