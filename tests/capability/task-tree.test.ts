/**
 * The task tree, as a user meets it in a real Chromium against the whole local stack (Auth,
 * PostgREST, Realtime, the functions under Deno, the orchestrator, local machines running the
 * vm-agent and the demo agent): a task whose agent dispatches a sub-task over SAM's MCP server, and
 * a cancelled task the user retries (retry_task, called as the user through supabase-js), both
 * appear nested in the sidebar while they run, with their live status; both are still nested after
 * a reload; a filter picked in the sidebar is in the URL and survives a reload; a node opens its task;
 * a task whose agent asks permission shows under "Needs me" live and leaves it once answered.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import WebSocket from 'ws';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { printMachineLogs } from './support.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const stack = useFunctionsStack('capability_tree', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '10' } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
let user: SupabaseClient;
const repo = makeWorkingRepo('treed');
const EMAIL = 'tree@example.com';
const PASSWORD = 'correct horse battery';

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
  page = await browser.newPage();
}, 60_000);

afterAll(async () => {
  await user?.auth.signOut().catch(() => {});
  await site?.close();
});

function explainFailure(): void {
  onTestFailed(async () => {
    printMachineLogs(stack.machines.baseDir);
    console.log(
      await stack.db.admin`select id, parent_task_id, source_task_id, triggered_by, title, status, execution_step,
                                  error_message from public.tasks order by created_at`,
    );
    console.log(
      await page
        .locator('ul.task-tree')
        .innerHTML()
        .catch(() => 'no tree'),
    );
  });
}

/** The task the page shows, from its URL (`#/p/<project>/t/<task>[?filter=…]`). */
function openTaskId(): string {
  const id = /\/t\/([0-9a-f-]{36})/.exec(new URL(page.url()).hash)?.[1];
  expect(id).toMatch(/^[0-9a-f-]{36}$/);
  return id!;
}

async function submit(message: string): Promise<string> {
  await page.getByLabel('Message').fill(message);
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.getByRole('heading', { name: message }).waitFor();
  return openTaskId();
}

/** A tree node (its own row: title, status, what needs the user), found under `within` when given. */
const node = (taskId: string, within?: string) =>
  page.locator(`${within ? `li.tree-node[data-task-id="${within}"] ` : ''}li.tree-node[data-task-id="${taskId}"]`);
const row = (taskId: string, within?: string) => node(taskId, within).locator(`> a[data-task-id="${taskId}"]`);
const status = (taskId: string, within?: string) => row(taskId, within).getByTestId('tree-status').textContent();

describe('the task tree', () => {
  let projectId: string;
  let parentId: string;
  let childId: string;
  let cancelledId: string;
  let retryId: string;

  it('nests a sub-task the agent dispatched under its task, live, with its status', async () => {
    explainFailure();
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill(EMAIL);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByLabel('Name').fill('treed');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'treed' }).waitFor();
    projectId = /#\/p\/([0-9a-f-]{36})/.exec(page.url())![1]!;

    parentId = await submit('Plan the docs in PLAN.md {{subtask: Write the docs in DOCS.md}}');
    // The sub-task shows up under its parent without a reload: it came over `project:<id>`.
    const nested = page.locator(`li.tree-node[data-task-id="${parentId}"] > ul.tree-children > li.tree-node`);
    await nested.first().waitFor({ timeout: 120_000 });
    childId = (await nested.first().getAttribute('data-task-id'))!;
    expect(await nested.first().getAttribute('data-kind')).toBe('sub-task');
    expect(await row(childId, parentId).textContent()).toContain('Sub-task: Write the docs in DOCS.md');
    // Its status moves on live, to the end.
    await expect.poll(() => status(childId, parentId), { timeout: 150_000 }).toBe('Completed');
    await expect.poll(() => status(parentId), { timeout: 60_000 }).toBe('Completed');

    const [child] = await stack.db.admin`
      select l.parent_task_id, l.classification, l.tree_depth, t.triggered_by
        from public.task_lineage l join public.tasks t on t.id = l.task_id where l.task_id = ${childId}`;
    expect(child).toMatchObject({
      parent_task_id: parentId,
      classification: 'sub-task',
      tree_depth: 1,
      triggered_by: 'mcp',
    });
    expect(page.errors).toEqual([]);
  }, 300_000);

  it('groups a retry with the task it retries, as its second attempt, live', async () => {
    explainFailure();
    user = createClient(stack.url, stack.publishableKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: WebSocket as never },
    });
    const signedIn = await user.auth.signInWithPassword({ email: EMAIL, password: PASSWORD });
    expect(signedIn.error).toBeNull();

    cancelledId = await submit('Note the release in NOTES.md [stream:3000]');
    const cancelled = await user.rpc('cancel_task', { p_task: cancelledId, p_reason: 'not now' });
    expect(cancelled.error).toBeNull();
    await expect.poll(() => status(cancelledId), { timeout: 30_000 }).toBe('Cancelled');

    const retried = await user.rpc('retry_task', {
      p_task: cancelledId,
      p_description: 'Note the release in NOTES.md',
    });
    expect(retried.error).toBeNull();
    retryId = (retried.data as { taskId: string }).taskId;
    const attempt = page.locator(
      `li.tree-node[data-task-id="${cancelledId}"] > ol.tree-attempts > li.tree-node[data-task-id="${retryId}"]`,
    );
    await attempt.waitFor({ timeout: 30_000 });
    expect(await attempt.getAttribute('data-kind')).toBe('retry');
    expect(await row(retryId, cancelledId).textContent()).toContain('Attempt 2');
    await expect.poll(() => status(retryId, cancelledId), { timeout: 150_000 }).toBe('Completed');

    const [lineage] = await stack.db.admin`
      select classification, source_task_id, parent_task_id from public.task_lineage where task_id = ${retryId}`;
    expect(lineage).toMatchObject({
      classification: 'retry',
      source_task_id: cancelledId,
      parent_task_id: cancelledId,
    });
    expect(page.errors).toEqual([]);
  }, 240_000);

  it('keeps both nested after a reload, and a node opens its task', async () => {
    explainFailure();
    await page.reload();
    await node(childId, parentId).waitFor();
    await node(retryId, cancelledId).waitFor();
    expect(await status(childId, parentId)).toBe('Completed');
    expect(await status(retryId, cancelledId)).toBe('Completed');
    // Nowhere else: neither is listed at the top.
    expect(await page.locator(`ul.task-tree > li.tree-node[data-task-id="${childId}"]`).count()).toBe(0);
    expect(await page.locator(`ul.task-tree > li.tree-node[data-task-id="${retryId}"]`).count()).toBe(0);

    await row(childId, parentId).click();
    await page.getByRole('heading', { name: 'Write the docs in DOCS.md', exact: true }).waitFor();
    expect(openTaskId()).toBe(childId);
    expect(await row(childId, parentId).getAttribute('aria-current')).toBe('page');
    expect(page.errors).toEqual([]);
  }, 60_000);

  it('narrows to a filter that is in the URL and survives a reload', async () => {
    explainFailure();
    const filters = page.getByRole('navigation', { name: 'Filter tasks' });
    await filters.getByRole('link', { name: /^Failed/ }).click();
    await expect.poll(() => new URL(page.url()).hash).toBe(`#/p/${projectId}/t/${childId}?filter=failed`);
    const shown = async () =>
      page
        .locator('ul.task-tree li.tree-node')
        .evaluateAll((els) =>
          els.map((e) => `${e.getAttribute('data-task-id')}${e.classList.contains('context') ? '~' : ''}`),
        );
    // Only the cancelled attempt: the completed tasks and its completed retry are left out.
    await expect.poll(shown).toEqual([cancelledId]);

    await page.reload();
    await page.getByRole('heading', { name: 'Write the docs in DOCS.md', exact: true }).waitFor();
    await expect.poll(shown).toEqual([cancelledId]);
    expect(await filters.getByRole('link', { name: /^Failed/ }).getAttribute('aria-current')).toBe('true');

    // "Done": the completed ones, the cancelled task kept (dimmed) for its completed retry.
    await filters.getByRole('link', { name: /^Done/ }).click();
    await expect.poll(shown).toEqual([`${cancelledId}~`, retryId, parentId, childId]);
    await filters.getByRole('link', { name: /^All/ }).click();
    await expect.poll(() => new URL(page.url()).hash).toBe(`#/p/${projectId}/t/${childId}`);
    expect(page.errors).toEqual([]);
  }, 60_000);

  it('marks a task whose agent asks permission as needing the user, live, and clears it once answered', async () => {
    explainFailure();
    await page.getByRole('link', { name: 'Agent profiles' }).click();
    await page.getByRole('link', { name: 'New profile' }).click();
    const form = page.locator('form.profile-form');
    await form.getByLabel('Name').fill('careful');
    await form.getByLabel('Permissions').selectOption('ask');
    await form.getByRole('button', { name: 'Save profile' }).click();
    await page.locator('li.profile').filter({ hasText: 'careful' }).waitFor();
    await page.getByRole('link', { name: '← treed' }).click();
    await page.locator('form.composer').getByLabel('Profile', { exact: true }).selectOption({ label: 'careful' });
    const askingId = await submit('Note the plan in README.md [permission]');

    // The permission request reaches the tree over `project:<id>` (event `attention`).
    await expect
      .poll(
        () =>
          row(askingId)
            .getByTestId('tree-needs')
            .textContent()
            .catch(() => null),
        { timeout: 120_000 },
      )
      .toBe('Asks your permission');
    const filters = page.getByRole('navigation', { name: 'Filter tasks' });
    await filters.getByRole('link', { name: /^Needs me/ }).click();
    const shown = () =>
      page.locator('ul.task-tree li.tree-node').evaluateAll((els) => els.map((e) => e.getAttribute('data-task-id')));
    await expect.poll(shown).toEqual([askingId]);
    const [request] = await stack.db.admin`select status from public.permission_requests where task_id = ${askingId}`;
    expect(request).toMatchObject({ status: 'pending' });

    await page.getByTestId('permission-card').getByRole('button', { name: 'Allow once' }).click();
    await expect.poll(shown, { timeout: 60_000 }).toEqual([]);
    await page.getByText('No tasks match this filter.').waitFor();
    expect(page.errors).toEqual([]);
  }, 240_000);
});
