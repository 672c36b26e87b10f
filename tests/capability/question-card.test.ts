/**
 * An agent's question, as a user meets it in a real Chromium against the whole local stack: the
 * demo agent asks over MCP (request_human_input, `{{ask: …}}`) and waits in its turn; the card in
 * the chat offers the choices; the user's click reaches the agent (get_pending_messages), which goes
 * on and writes the answer into the pushed branch. Then a question nobody answers within the
 * project's `human_input_ttl`: the card says it expired, and the sweep tells the agent to go on.
 */
import { execFileSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { printMachineLogs } from './support.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const stack = useFunctionsStack('capability_questions', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '10' } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
const repo = makeWorkingRepo('asker');
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
    console.log(await stack.db.admin`select context, status, answer from public.human_input_requests`);
  });
}

async function submit(message: string): Promise<void> {
  await page.getByLabel('Message').fill(message);
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.getByRole('heading', { name: message }).waitFor();
}

const said = async () => (await page.locator('ol.messages > li.msg-assistant .msg-text').allTextContents()).join('');

describe('questions in the chat', () => {
  it('shows the agent’s question with its choices; the click reaches the agent, which goes on with it', async () => {
    explainFailure();
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill('questions@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByLabel('Name').fill('asker');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'asker' }).waitFor();

    await submit('Note the database in README.md {{ask: Which database? | Postgres | SQLite}}');
    const card = page.getByTestId('question-card');
    await card.waitFor({ timeout: 120_000 });
    expect(await card.locator('strong').textContent()).toBe('The agent asks: Which database?');
    expect(await card.getByRole('group', { name: 'Choices' }).getByRole('button').allTextContents()).toEqual([
      'Postgres',
      'SQLite',
    ]);
    await expect.poll(() => page.getByTestId('task-step').textContent()).toBe('The agent asks you a question');
    // The agent waits in its turn: nothing is written before the answer.
    expect(await said()).not.toContain('Done:');

    await card.getByRole('button', { name: 'Postgres' }).click();
    await card.getByTestId('card-outcome').waitFor();
    expect(await card.getByTestId('card-outcome').textContent()).toBe('You answered: Postgres');
    expect(await card.getAttribute('data-state')).toBe('answered');

    await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 90_000 }).toBe('Completed');
    await expect
      .poll(said, { timeout: 60_000 })
      .toContain('Done: appended "- Note the database in README.md (answer: Postgres)" to README.md.');
    await expect
      .poll(() => page.getByTestId('task-push').getAttribute('data-pushed'), { timeout: 30_000 })
      .toBe('true');
    const branch = (await page.getByTestId('task-branch').textContent())!;
    expect(git('show', `${branch}:README.md`)).toContain('- Note the database in README.md (answer: Postgres)');
    const [q] = await stack.db.admin`select status, answer from public.human_input_requests`;
    expect(q).toEqual({ status: 'answered', answer: 'Postgres' });

    // After a reload the card is still answered (read back from the chat and the question's row).
    await page.reload();
    await page.getByTestId('question-card').getByTestId('card-outcome').waitFor();
    expect(await page.getByTestId('question-card').getAttribute('data-state')).toBe('answered');
    expect(page.errors).toEqual([]);
  }, 240_000);

  it('says when a question expired unanswered, and the agent goes on without the answer', async () => {
    explainFailure();
    const [project] = await stack.db.admin`select id from public.projects where name = 'asker'`;
    await stack.db.admin`insert into public.project_settings (project_id, key, value)
      values (${project!.id}, 'human_input_ttl', '"10 seconds"')`;
    await submit('Note the style in README.md {{ask: Tabs or spaces?}}');
    const card = page.getByTestId('question-card');
    await card.waitFor({ timeout: 120_000 });
    expect(await card.locator('strong').textContent()).toBe('The agent asks: Tabs or spaces?');
    // No choices: free text only.
    expect(await card.getByRole('group', { name: 'Choices' }).count()).toBe(0);
    await card.getByLabel('Your answer').waitFor();

    // The expiry passes on screen; the sweep (pg_cron's job, run here directly) tells the chat and the agent.
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 30_000 }).toBe('expired');
    expect(await card.getByTestId('card-outcome').textContent()).toBe('Nobody answered in time: the question expired.');
    expect(await card.getByRole('button', { name: 'Answer' }).count()).toBe(0);
    const [swept] = await stack.db.admin`select public.sweep_human_input() as n`;
    expect(swept!.n).toBe(1);

    await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 90_000 }).toBe('Completed');
    await expect
      .poll(said, { timeout: 60_000 })
      .toContain('Done: appended "- Note the style in README.md" to README.md.');
    expect(await said()).not.toContain('(answer:');
    await page.reload();
    await page.getByTestId('question-card').waitFor();
    expect(await page.getByTestId('question-card').getAttribute('data-state')).toBe('expired');
    expect(page.errors).toEqual([]);
  }, 240_000);
});
