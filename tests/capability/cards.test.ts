/**
 * Cards, as a user meets them in a real Chromium against the whole local stack (Auth, PostgREST,
 * Realtime, the functions under Deno, the orchestrator, a local machine running the vm-agent and
 * the demo agent): a profile that asks for permission, a card in the chat answered "Allow once"
 * and the agent finishing its edit on the pushed branch; then a conversation profile with a
 * one-turn budget, the follow-up held with a budget card, continued with a new limit, and the
 * agent answering the follow-up; and an "Always allow" in a conversation that lets the next edit go
 * without a card, revoked from its card, after which the next edit asks again.
 */
import { execFileSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { printMachineLogs } from './support.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const stack = useFunctionsStack('capability_cards', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '10' } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
const repo = makeWorkingRepo('carded');
const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
  page = await browser.newPage();
}, 60_000);

afterAll(async () => {
  await site?.close();
});

function explainFailure(): void {
  onTestFailed(async () => {
    printMachineLogs(stack.machines.baseDir);
    console.log(await stack.db.admin`select title, status, execution_step, error_message from public.tasks`);
  });
}

/** A profile made on the profiles page; back in the chat afterwards. */
async function makeProfile(name: string, fill: (form: ReturnType<Page['locator']>) => Promise<void>) {
  await page.getByRole('link', { name: 'Agent profiles' }).click();
  await page.getByRole('link', { name: 'New profile' }).click();
  const form = page.locator('form.profile-form');
  await form.getByLabel('Name').fill(name);
  await fill(form);
  await form.getByRole('button', { name: 'Save profile' }).click();
  await page.locator('li.profile').filter({ hasText: name }).waitFor();
  await page.getByRole('link', { name: '← carded' }).click();
}

async function submit(profile: string, message: string): Promise<void> {
  await page.locator('form.composer').getByLabel('Profile', { exact: true }).selectOption({ label: profile });
  await page.getByLabel('Message').fill(message);
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.getByRole('heading', { name: message }).waitFor();
}

describe('cards in the chat', () => {
  it('asks before the agent edits; "Allow once" lets it go on and the edit is on the pushed branch', async () => {
    explainFailure();
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill('cards@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByLabel('Name').fill('carded');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'carded' }).waitFor();

    await makeProfile('careful', async (form) => {
      await form.getByLabel('Permissions').selectOption('ask');
    });
    await submit('careful', 'Note the plan in README.md [permission]');

    const card = page.getByTestId('permission-card');
    await card.waitFor({ timeout: 120_000 });
    expect(await card.textContent()).toContain('The agent asks to: Append a line to README.md');
    await expect.poll(() => page.getByTestId('task-step').textContent()).toBe('Waiting for your permission');
    await card.getByRole('button', { name: 'Allow once' }).click();
    await card.getByTestId('card-outcome').waitFor();
    expect(await card.getByTestId('card-outcome').textContent()).toBe('Allowed once: Append a line to README.md');
    expect(await card.getAttribute('data-state')).toBe('answered');

    await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 90_000 }).toBe('Completed');
    await expect
      .poll(() => page.getByTestId('task-push').getAttribute('data-pushed'), { timeout: 30_000 })
      .toBe('true');
    const branch = (await page.getByTestId('task-branch').textContent())!;
    expect(git('show', `${branch}:README.md`)).toContain('- Note the plan in README.md');
    expect(page.errors).toEqual([]);
  }, 240_000);

  it('holds a follow-up at the turn budget with a card; "Continue" with a new limit and the agent goes on', async () => {
    explainFailure();
    await makeProfile('brief', async (form) => {
      await form.getByLabel('Task mode').selectOption('conversation');
      await form.getByLabel('Max turns').fill('1');
    });
    await submit('brief', 'Note A in README.md');
    // Turn ends are single lines of their own (the agent's text may arrive in several chunks).
    const turnEnds = page.locator('ol.messages > li.msg-system').filter({ hasText: 'Turn ended: end_turn' });
    await turnEnds.first().waitFor({ timeout: 120_000 });
    await page.getByLabel('Reply to the agent').fill('Note B in README.md');
    await page.getByRole('button', { name: 'Send' }).click();

    const card = page.getByTestId('budget-card');
    await card.waitFor({ timeout: 60_000 });
    expect(await card.textContent()).toContain('Paused: the budget of 1 agent turn is used.');
    await expect.poll(() => page.getByTestId('task-step').textContent()).toBe('Paused at its budget: waiting for you');
    expect(await card.getByLabel('Turn limit').inputValue()).toBe('2');
    await card.getByLabel('Turn limit').fill('3');
    await card.getByRole('button', { name: 'Continue' }).click();
    await card.getByTestId('card-outcome').waitFor();
    expect(await card.getByTestId('card-outcome').textContent()).toBe('Continued with new limits.');

    // The held follow-up is the agent's next turn.
    await turnEnds.nth(1).waitFor({ timeout: 60_000 });
    const said = await page.locator('ol.messages > li.msg-assistant .msg-text').allTextContents();
    expect(said.join('')).toContain('Done: appended "- Note B in README.md" to README.md.');
    const [budget] = await stack.db.admin`
      select b.max_turns, b.used_turns, b.state from public.task_budgets b join public.tasks t on t.id = b.task_id
       where t.description = 'Note A in README.md'`;
    expect(budget).toMatchObject({ max_turns: 3, used_turns: 2, state: 'running' });
    expect(page.errors).toEqual([]);
  }, 240_000);

  it('"Always allow" lets the next edit go without a card; revoked from the card, the next edit asks again', async () => {
    explainFailure();
    await makeProfile('trusting', async (form) => {
      await form.getByLabel('Task mode').selectOption('conversation');
      await form.getByLabel('Permissions').selectOption('ask');
    });
    await submit('trusting', 'Note C in README.md [permission]');
    const cards = page.getByTestId('permission-card');
    const first = cards.nth(0);
    await first.waitFor({ timeout: 120_000 });
    await first.getByRole('button', { name: 'Always allow' }).click();
    await first.getByTestId('card-outcome').waitFor();
    expect(await first.getByTestId('card-outcome').textContent()).toBe(
      'Always allowed for this task: Append a line to README.md',
    );
    const turnEnds = page.locator('ol.messages > li.msg-system').filter({ hasText: 'Turn ended: end_turn' });
    await turnEnds.first().waitFor({ timeout: 60_000 });

    // The next edit is allowed at once: the turn ends with the line written and no new card.
    const reply = async (text: string) => {
      await page.getByLabel('Reply to the agent').fill(text);
      await page.getByRole('button', { name: 'Send' }).click();
    };
    await reply('Note D in README.md [permission]');
    await turnEnds.nth(1).waitFor({ timeout: 60_000 });
    const said = () => page.locator('ol.messages > li.msg-assistant .msg-text').allTextContents();
    expect((await said()).join('')).toContain('Done: appended "- Note D in README.md" to README.md.');
    expect(await cards.count()).toBe(1);

    // Revoked from the card: the card says so and offers no second revoke.
    await first.getByTestId('permission-revoke').click();
    await expect
      .poll(() => first.getByTestId('card-outcome').textContent())
      .toBe('No longer always allowed: Append a line to README.md (the agent will ask again)');
    expect(await first.getByTestId('permission-revoke').count()).toBe(0);
    expect(await first.locator('.error').count()).toBe(0);

    // The next edit is put to the user again.
    await reply('Note E in README.md [permission]');
    const second = cards.nth(1);
    await second.waitFor({ timeout: 60_000 });
    expect(await second.getAttribute('data-state')).toBe('pending');
    await expect.poll(() => page.getByTestId('task-step').textContent()).toBe('Waiting for your permission');
    await second.getByRole('button', { name: 'Allow once' }).click();
    await turnEnds.nth(2).waitFor({ timeout: 60_000 });
    expect((await said()).join('')).toContain('Done: appended "- Note E in README.md" to README.md.');
    const requests = await stack.db.admin`
      select p.status, p.allowed_by is not null as at_once, p.revoked_at is not null as revoked
        from public.permission_requests p join public.tasks t on t.id = p.task_id
       where t.description = 'Note C in README.md [permission]' order by p.created_at`;
    expect(requests).toEqual([
      { status: 'allowed_always', at_once: false, revoked: true },
      { status: 'allowed_always', at_once: true, revoked: false },
      { status: 'allowed_once', at_once: false, revoked: false },
    ]);
    expect(page.errors).toEqual([]);
  }, 240_000);
});
