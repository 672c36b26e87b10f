import { randomUUID } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { bringUp } from '../helpers/control-plane.ts';
import { useTestStack } from '../helpers/local-stack.ts';
import { serveWeb, TRACK_SOCKETS, type WebSite } from './site.ts';

/**
 * The built SolidJS chat in a real Chromium against a test stack with every service: sign up,
 * create a project, submit a task, watch agent messages stream in live over the private
 * `session:<id>` channel, survive a dropped socket without losing or doubling a message, and see
 * the branch and PR when the task completes.
 */
const t = useTestStack({ emailConfirmation: false }, 'web_chat');
const browser = useBrowser();
let site: WebSite;

beforeAll(async () => {
  site = await serveWeb(t.url, t.publishableKey);
}, 60_000);

afterAll(async () => {
  await site?.close();
});

declare global {
  interface Window {
    __sockets: WebSocket[];
  }
}

let seq = 0;
function record(sessionId: string, messages: Record<string, unknown>[]) {
  const batch = messages.map((m) => ({ messageId: `test-${seq++}`, producedAt: new Date().toISOString(), ...m }));
  return t.db.admin`select public.record_messages(${sessionId}, ${t.db.admin.json(batch as never)}) as r`;
}

/** The rendered conversation: one entry per row, with its database id, role and text (not the row's controls). */
function rendered(page: Page) {
  return page.$$eval('ol.messages > li', (lis) =>
    lis.map((li) => ({
      id: Number((li as HTMLElement).dataset.id),
      role: (li as HTMLElement).dataset.role!,
      text: ((li.querySelector('.msg-text') ?? li).textContent ?? '').trim(),
    })),
  );
}

it('signs up, creates a project, submits a task and streams its session live across a reconnect', async () => {
  const page = await browser.newPage();
  await page.addInitScript(TRACK_SOCKETS);
  await page.goto(site.url);

  // Sign up (email confirmation off: a session at once).
  await page.getByRole('heading', { name: 'Sign in to SAM' }).waitFor();
  await page.getByRole('button', { name: 'Create an account' }).click();
  const email = `web-${randomUUID().slice(0, 8)}@example.com`;
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  await page.getByText('No projects yet.').waitFor();

  // Create a project on a local repository.
  await page.getByLabel('Name').fill('greeter');
  await page.getByLabel('Git repository (a local path or a URL)').fill('/srv/git/greeter');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('heading', { name: 'greeter' }).waitFor();
  const [project] = await t.db
    .admin`select id, repo_provider, default_branch, default_agent_type, owner_id from public.projects`;
  // The demo agent (no model needed) is what a new project starts with.
  expect(project).toMatchObject({ repo_provider: 'local', default_branch: 'main', default_agent_type: 'demo' });
  const [owner] = await t.db.admin`select email from auth.users where id = ${project!.owner_id}`;
  expect(owner!.email).toBe(email);

  // Submit: the task shows up queued, with its step in words.
  await page.getByLabel('Message').fill('add a greeting to README');
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.getByRole('heading', { name: 'add a greeting to README' }).waitFor();
  const [task] = await t.db.admin`
    select id, chat_session_id, status, execution_step from public.tasks where project_id = ${project!.id}`;
  expect(task!.status).toBe('queued');
  expect(await page.getByTestId('task-status').textContent()).toBe('Queued');
  expect(await page.getByTestId('task-step').textContent()).toBe(
    task!.execution_step === 'node_selection' ? 'Finding a server…' : 'Setting up a new server…',
  );
  await expect
    .poll(() => page.locator(`.task-list a[data-task-id="${task!.id}"]`).textContent())
    .toContain('add a greeting to README');
  const sessionId = task!.chat_session_id as string;

  // The user's own message, then agent output recorded by the system arrives live, in order.
  await page.locator('[data-channel="live"]').waitFor();
  await page.locator('li.msg-user').filter({ hasText: 'add a greeting to README' }).waitFor();
  await record(sessionId, [
    // The agent echoes the prompt it got: shown once, not twice.
    { role: 'assistant', content: 'add a greeting to README', metadata: { echo: 'user' } },
    { role: 'assistant', content: 'I will add a greeting to the README.' },
    { role: 'thought', content: 'The README lacks a greeting section.' },
    { role: 'tool', content: 'Read README.md', toolCallId: 'call-1', toolStatus: 'in_progress' },
    {
      role: 'plan',
      content: '[completed] Read README\n[pending] Add greeting',
      metadata: {
        entries: [
          { content: 'Read README', status: 'completed', priority: 'high' },
          { content: 'Add greeting', status: 'pending', priority: 'high' },
        ],
      },
    },
  ]);
  await page.locator('li.msg-plan').waitFor({ timeout: 5000 });
  await record(sessionId, [
    { role: 'tool', content: '', toolCallId: 'call-1', toolStatus: 'completed' },
    { role: 'system', content: 'Turn ended.' },
  ]);
  await page.locator('li.msg-system').filter({ hasText: 'Turn ended.' }).waitFor({ timeout: 5000 });
  let rows = await rendered(page);
  expect(rows.map((r) => r.role)).toEqual(['user', 'assistant', 'thought', 'tool', 'plan', 'system']);
  expect(rows.map((r) => r.id)).toEqual([...rows.map((r) => r.id)].sort((a, b) => a - b));
  expect(await page.locator('li.msg-tool').getAttribute('data-status')).toBe('completed');
  expect(await page.locator('li.msg-tool').textContent()).toContain('Done');
  // Thoughts start collapsed.
  expect(await page.locator('li.msg-thought details').getAttribute('open')).toBeNull();

  // Cut the socket, record while the page is offline, and see it catch up: nothing lost or doubled.
  const cut = await page.evaluate(() => {
    const open = window.__sockets.filter((s) => s.readyState === WebSocket.OPEN);
    open.forEach((s) => s.close());
    return open.length;
  });
  expect(cut).toBeGreaterThan(0);
  await page.locator('[data-channel="reconnecting"]').waitFor({ timeout: 2000 });
  const missed = Array.from({ length: 5 }, (_, i) => ({ role: 'assistant', content: `offline chunk ${i + 1}` }));
  await record(sessionId, missed.slice(0, 3));
  await record(sessionId, missed.slice(3));
  await page.locator('li.msg-assistant').filter({ hasText: 'offline chunk 5' }).waitFor({ timeout: 10_000 });
  await page.locator('[data-channel="live"]').waitFor();
  // And live again after the rejoin.
  await record(sessionId, [{ role: 'assistant', content: 'back online' }]);
  await page.locator('li.msg-assistant').filter({ hasText: 'back online' }).waitFor({ timeout: 5000 });

  rows = await rendered(page);
  const stored = await t.db.admin`
    select id, role from public.messages where session_id = ${sessionId}
      and not (role = 'tool' and content = '') and not (role = 'assistant' and coalesce(tool_metadata ->> 'echo', '') = 'user')
    order by id`;
  expect(rows.map((r) => r.id)).toEqual(stored.map((r) => Number(r.id)));
  expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  expect(rows.filter((r) => r.text.startsWith('offline chunk')).map((r) => r.text)).toEqual(
    missed.map((m) => m.content),
  );

  // The user replies while the task runs; their message joins the conversation once.
  await page.getByLabel('Reply to the agent').fill('also wave goodbye');
  await page.getByRole('button', { name: 'Send' }).click();
  await page.locator('li.msg-user').filter({ hasText: 'also wave goodbye' }).waitFor({ timeout: 5000 });
  expect(await page.locator('li.msg-user').count()).toBe(2);

  // The agent comes up and completes: the step moves live, then the outcome shows branch and PR.
  const branch = 'sam/add-greeting-readme-w3b7t1';
  await t.db.admin`update public.tasks set branch = ${branch} where id = ${task!.id}`;
  await bringUp(t.db.admin, task!.id as string);
  await expect.poll(() => page.getByTestId('task-step').textContent()).toBe('Agent is working…');
  const prUrl = 'https://github.com/example/greeter/pull/7';
  await t.db.admin`select public.complete_task(${task!.id}, 'Added a greeting to the README.', ${prUrl})`;
  await page.getByTestId('task-outcome').waitFor({ timeout: 5000 });
  expect(await page.getByTestId('task-status').textContent()).toBe('Completed');
  await expect.poll(() => page.getByTestId('task-branch').textContent()).toBe(branch);
  await expect.poll(() => page.getByTestId('task-pr').getAttribute('href')).toBe(prUrl);
  expect(await page.getByTestId('task-outcome').textContent()).toContain('Added a greeting to the README.');

  // A reload restores the session from storage, then reads the whole conversation once.
  const before = await rendered(page);
  await page.reload();
  await page.getByTestId('task-branch').waitFor();
  await page.locator('[data-channel="live"]').waitFor();
  await expect.poll(async () => (await rendered(page)).map((r) => r.id)).toEqual(before.map((r) => r.id));

  expect(page.errors).toEqual([]);
}, 60_000);
