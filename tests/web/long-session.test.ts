import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { useTestStack } from '../helpers/local-stack.ts';
import { insertLongSession } from '../helpers/long-session.ts';
import { serveWeb, type WebSite } from './site.ts';

/**
 * A session of 10,000 messages in the built chat in a real Chromium: it opens at the newest
 * message with only a window of rows in the DOM, scrolls to the oldest, and still merges a live
 * message (Realtime) into the windowed list and follows it.
 */
const t = useTestStack({ emailConfirmation: false }, 'web_long_session');
const browser = useBrowser();
let site: WebSite;

beforeAll(async () => {
  site = await serveWeb(t.url, t.publishableKey);
}, 60_000);

afterAll(async () => {
  await site?.close();
});

/** What the page holds: rows in the DOM, rows the list stands for, and where the scroller is. */
function listState(page: Page) {
  return page.evaluate(() => {
    const scroller = document.querySelector<HTMLElement>('.messages-scroll')!;
    const list = document.querySelector<HTMLElement>('ol.messages')!;
    return {
      domRows: list.querySelectorAll(':scope > li').length,
      rows: Number(list.dataset.rows),
      windowed: scroller.dataset.windowed,
      fromBottom: scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight,
      scrollTop: scroller.scrollTop,
    };
  });
}

/** Whether the row with this database id is in the DOM and inside the scroller's visible box. */
function inView(page: Page, id: number) {
  return page.evaluate((rowId) => {
    const scroller = document.querySelector<HTMLElement>('.messages-scroll')!.getBoundingClientRect();
    const row = document.querySelector(`ol.messages > li[data-id="${rowId}"]`)?.getBoundingClientRect();
    return Boolean(row && row.bottom > scroller.top && row.top < scroller.bottom);
  }, id);
}

it('opens a 10,000-message session at the newest message with only a window of rows, scrolls to the oldest, and follows a live one', async () => {
  const page = await browser.newPage();
  await page.goto(site.url);
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill('long@example.com');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByLabel('Name').fill('talkative');
  await page.getByLabel('Git repository (a local path or a URL)').fill('/srv/git/talkative');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('heading', { name: 'talkative' }).waitFor();
  await page.getByLabel('Message').fill('a long conversation');
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.getByRole('heading', { name: 'a long conversation' }).waitFor();
  const [task] = await t.db.admin`select id, chat_session_id from public.tasks`;
  const sessionId = task!.chat_session_id as string;
  const { lastId } = await insertLongSession(t.db.admin, sessionId, 10_000);
  const [{ n }] = (await t.db.admin`
    select count(*)::int as n from public.messages where session_id = ${sessionId}`) as unknown as [{ n: number }];
  expect(n).toBeGreaterThan(10_000);

  // Opened again (a reload reads the whole history): the newest message is in view.
  await page.reload();
  const newest = page.locator(`ol.messages > li[data-id="${lastId}"]`);
  await newest.waitFor({ timeout: 60_000 });
  expect(await newest.textContent()).toContain('message 10000');
  await expect.poll(() => inView(page, lastId)).toBe(true);
  let state = await listState(page);
  expect(state.windowed).toBe('true');
  // Every message (tool calls fold; none here repeat) is one row of the list…
  expect(state.rows).toBe(n);
  // …but only a window of them is in the DOM, and the list is scrolled to its end.
  expect(state.domRows).toBeGreaterThan(3);
  expect(state.domRows).toBeLessThan(150);
  expect(state.fromBottom).toBeLessThan(2);
  // Ten thousand rows read as history are not announced.
  expect(await page.getByTestId('list-announcement').textContent()).toBe('');

  // Scrolled to the top: the user's first message, still only a window of rows.
  await page.evaluate(() => (document.querySelector('.messages-scroll')!.scrollTop = 0));
  await page.locator('ol.messages > li.msg-user').filter({ hasText: 'a long conversation' }).waitFor();
  state = await listState(page);
  expect(state.domRows).toBeLessThan(150);
  expect(await newest.count()).toBe(0);

  // Back at the bottom, a live message arrives over Realtime and is followed into view.
  await page.evaluate(() => {
    const scroller = document.querySelector('.messages-scroll')!;
    scroller.scrollTop = scroller.scrollHeight;
  });
  await newest.waitFor();
  await page.locator('[data-channel="live"]').waitFor();
  const batch = [
    { messageId: 'live-1', role: 'assistant', content: 'a live message', producedAt: new Date().toISOString() },
  ];
  await t.db.admin`select public.record_messages(${sessionId}, ${t.db.admin.json(batch as never)})`;
  const live = page.locator('ol.messages > li.msg-assistant').filter({ hasText: 'a live message' });
  await live.waitFor({ timeout: 10_000 });
  const liveId = Number(await live.getAttribute('data-id'));
  await expect.poll(() => inView(page, liveId)).toBe(true);
  // The windowed list is no live region itself; the hidden one reads the new message, and only it.
  expect(await page.locator('ol.messages').getAttribute('aria-live')).toBe('off');
  await expect.poll(() => page.getByTestId('list-announcement').textContent()).toBe('Agent: a live message');
  state = await listState(page);
  expect(state.rows).toBe(n + 1);
  expect(state.domRows).toBeLessThan(150);
  expect(page.errors).toEqual([]);
}, 180_000);
