/**
 * Budget defaults and the usage line, as a user meets them in a real Chromium against the whole
 * local stack (Auth, PostgREST, Realtime, the functions under Deno, the orchestrator, a local
 * machine running the vm-agent and the demo agent): the owner sets the project's default turn limit
 * to 1 in "Budget defaults"; a new conversation task (its profile sets no limits of its own) shows
 * the tokens its agent reported after the first turn, and its follow-up is held at that limit
 * with a budget card.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { printMachineLogs } from './support.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const stack = useFunctionsStack('capability_budget_defaults', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '10' } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
const repo = makeWorkingRepo('budgeted');

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
  page = await browser.newPage();
  recordSettingsExchanges();
}, 60_000);

afterAll(async () => {
  await site?.close();
});

/** What the page asked PostgREST about the project's settings and what it got (checked, and printed on failure). */
const settingsExchanges: string[] = [];

function recordSettingsExchanges(): void {
  page.on('response', (response) => {
    if (!response.url().includes('/project_settings')) return;
    void response
      .text()
      .catch(() => '(no body)')
      .then((body) =>
        settingsExchanges.push(
          `${new Date().toISOString()} ${response.request().method()} ${response.url()} → ${response.status()} ${body}`,
        ),
      );
  });
}

function explainFailure(): void {
  onTestFailed(async () => {
    console.log(`project_settings requests:\n${settingsExchanges.join('\n')}`);
    console.log(await stack.db.admin`select project_id, key, value from public.project_settings`);
    console.log(`page errors: ${page.errors.join('\n')}`);
    printMachineLogs(stack.machines.baseDir);
    console.log(await stack.db.admin`select title, status, execution_step, error_message from public.tasks`);
  });
}

describe('budget defaults and usage in the task view', () => {
  it('a default turn limit set for the project pauses a new task at it; the task shows the tokens its agent reported', async () => {
    explainFailure();
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill('budgets@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByLabel('Name').fill('budgeted');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'budgeted' }).waitFor();

    // The project's budget defaults: one turn, the rest left to SAM (no limit).
    const settings = page.locator('details.budget-settings');
    await settings.locator('summary').click();
    await expect.poll(() => settings.getByRole('button', { name: 'Save budget defaults' }).isEnabled()).toBe(true);
    await settings.getByLabel('Turn limit').fill('1');
    await settings.getByRole('button', { name: 'Save budget defaults' }).click();
    await settings.getByText('Saved. New tasks get these limits.').waitFor();
    // Read once for the page: opening the panel (a new URL) neither reads them again nor resets what
    // the owner typed (it did, and a read that landed after the typing saved an empty form).
    expect(settingsExchanges.filter((e) => / GET /.test(e))).toHaveLength(1);
    expect(settingsExchanges.filter((e) => / POST /.test(e))).toHaveLength(1);
    // Read back after a reload: it is the project's, not the page's.
    await page.reload();
    await page.getByRole('heading', { name: 'budgeted' }).waitFor();
    // The open panel is in the URL (`panel=budget`), so the reload shows it open.
    expect(new URL(page.url()).hash).toContain('panel=budget');
    await expect.poll(() => settings.getAttribute('open')).not.toBeNull();
    await expect.poll(() => settings.getByLabel('Turn limit').inputValue()).toBe('1');
    expect(await settings.getByLabel('Token limit').inputValue()).toBe('');
    // A value out of range is refused by the database, in words.
    await settings.getByLabel('Token limit').fill('2100000000');
    await settings.getByRole('button', { name: 'Save budget defaults' }).click();
    await expect.poll(() => settings.getByRole('alert').textContent()).toContain('task_max_tokens is at most');
    await settings.getByLabel('Token limit').fill('');
    await settings.locator('summary').click();

    // A conversation profile without limits of its own.
    await page.getByRole('link', { name: 'Agent profiles' }).click();
    await page.getByRole('link', { name: 'New profile' }).click();
    const form = page.locator('form.profile-form');
    await form.getByLabel('Name').fill('chatty');
    await form.getByLabel('Task mode').selectOption('conversation');
    await form.getByRole('button', { name: 'Save profile' }).click();
    await page.locator('li.profile').filter({ hasText: 'chatty' }).waitFor();
    await page.getByRole('link', { name: '← budgeted' }).click();

    const message = 'Note A in README.md [tokens:1234]';
    await page.locator('form.composer').getByLabel('Profile', { exact: true }).selectOption({ label: 'chatty' });
    await page.getByLabel('Message').fill(message);
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.getByRole('heading', { name: message }).waitFor();
    const turnEnds = page.locator('ol.messages > li.msg-system').filter({ hasText: 'Turn ended: end_turn' });
    await turnEnds.first().waitFor({ timeout: 120_000 });

    // The usage line shows what the vm-agent recorded for the task.
    const usageLine = page.getByTestId('task-usage');
    await expect.poll(() => usageLine.getAttribute('data-input'), { timeout: 30_000 }).toBe('1234');
    const [recorded] = await stack.db.admin`
      select u.input_tokens::int, u.output_tokens::int, u.turns from public.agent_session_usage u
        join public.tasks t on t.id = u.task_id where t.description = ${message}`;
    expect(recorded).toMatchObject({ input_tokens: 1234, output_tokens: 0, turns: 1 });
    expect(await usageLine.textContent()).toBe('Tokens: 1,234 in · 0 out');

    // The follow-up waits at the project's default of one turn.
    await page.getByLabel('Reply to the agent').fill('Note B in README.md');
    await page.getByRole('button', { name: 'Send' }).click();
    const card = page.getByTestId('budget-card');
    await card.waitFor({ timeout: 60_000 });
    expect(await card.textContent()).toContain('Paused: the budget of 1 agent turn is used.');
    await expect.poll(() => page.getByTestId('task-step').textContent()).toBe('Paused at its budget: waiting for you');
    const [budget] = await stack.db.admin`
      select b.max_turns, b.max_tokens::int, b.used_turns, b.state from public.task_budgets b
        join public.tasks t on t.id = b.task_id where t.description = ${message}`;
    expect(budget).toMatchObject({ max_turns: 1, max_tokens: null, used_turns: 1, state: 'paused' });
    // The refused save is the one failed request the browser logged.
    expect(page.errors.filter((e) => !e.includes('status of 400'))).toEqual([]);
  }, 240_000);
});
