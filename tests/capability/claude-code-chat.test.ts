/**
 * Claude Code from the web chat, as a user meets it, in a real Chromium and offline: sign up, open
 * Settings and save an Anthropic key whose base URL is the scripted Anthropic model (the form goes
 * through the credentials function; afterwards the page shows only "ends in …"), create a project
 * on a local repository, pick Claude Code in the composer and submit a task. The real
 * claude-code-acp runs through the vm-agent on the local provider: it writes a file with its own
 * tool and calls SAM's MCP tools (update_task_status, then complete_task) while the chat shows its
 * tool calls and messages live; the task ends with the commit on the `sam/…` branch, and the chat
 * names the branch. The scripted model checks what it was sent: the stored key as `x-api-key`, a
 * Claude model, SAM's MCP tools offered.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { AGENT_CACHE } from '../agents/agent-cache.ts';
import { ScriptedModel } from '../fakes/models/scripted-model.ts';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { printMachineLogs, taskIdInUrl } from './support.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const API_KEY = `sk-ant-chromium-${Math.random().toString(36).slice(2, 12)}-4242`;

const stack = useFunctionsStack('capability_claude', {
  allServices: true,
  // Machines install Claude Code into the shared test cache (no download per machine).
  machines: { agentEnv: { SAM_AGENT_CACHE_DIR: AGENT_CACHE } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
let model: ScriptedModel;
const repo = makeWorkingRepo('greeter');
const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

/** Lets the model go on past its first tool result: the test looks at the chat mid-task first. */
let releaseModel: () => void = () => {};
const modelReleased = new Promise<void>((resolve) => (releaseModel = resolve));

beforeAll(async () => {
  model = await new ScriptedModel({
    hold: { step: 1, until: modelReleased },
    steps: [
      { write: { file: 'GREETING.md', content: 'Hello from Claude Code\n' } },
      { mcp: { server: 'sam', tool: 'update_task_status', args: { message: 'Wrote the greeting' } } },
      { mcp: { server: 'sam', tool: 'complete_task', args: { summary: 'Added GREETING.md' } } },
      { text: 'Done: GREETING.md says hello.' },
    ],
  }).start();
  site = await serveWeb(stack.url, stack.publishableKey);
  page = await browser.newPage();
}, 60_000);

afterAll(async () => {
  releaseModel();
  await site?.close();
  await model?.close();
});

/**
 * Records, in the page, whether the key ever entered the DOM's text or attributes (from the Save
 * click on; while typed, it is only the password input's value), and what the task's status said
 * when the first tool call row appeared (the proof that the agent's output streamed while the task
 * ran). Installed once: hash navigation keeps the page.
 */
const WATCH = (key: string) => `(() => {
  window.__keySeen = false;
  window.__firstTool = null;
  new MutationObserver(() => {
    if (document.documentElement.outerHTML.includes(${JSON.stringify(key)})) window.__keySeen = true;
    if (window.__firstTool === null && document.querySelector('ol.messages > li.msg-tool')) {
      window.__firstTool = { status: document.querySelector('[data-testid="task-status"]')?.textContent ?? null };
    }
  }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
})();`;

/** Everything the page holds: its HTML, every input's value, its storage. */
const PAGE_TEXT = `(() => [
  document.documentElement.outerHTML,
  ...[...document.querySelectorAll('input, textarea, select')].map((e) => e.value),
  JSON.stringify({ ...localStorage }),
  JSON.stringify({ ...sessionStorage }),
].join('\\n'))()`;

function explainFailure(): void {
  onTestFailed(async () => {
    printMachineLogs(stack.machines.baseDir);
    console.log(await stack.db.admin`select title, status, execution_step, branch, error_message from public.tasks`);
    console.log(`model requests: ${model.requests.map((r) => `${r.api} ${r.path}`).join(', ')}`);
  });
}

describe('Claude Code from the web chat, offline', () => {
  it('saves an Anthropic key in Settings, picks Claude Code in the composer, watches it edit and call SAM tools live, and finds its commit on the sam/… branch', async () => {
    explainFailure();
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill('claude@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();

    // Settings: the Anthropic key, with the scripted model as its base URL.
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor();
    const anthropic = page.locator('li.credential[data-provider="anthropic"]');
    expect(await anthropic.textContent()).toContain('Not set');
    await anthropic.getByRole('button', { name: 'Set Anthropic' }).click();
    await anthropic.getByLabel('Anthropic key').fill(API_KEY);
    await anthropic.getByLabel('Base URL (optional, for a gateway or proxy)').fill(model.url);
    await page.evaluate(WATCH(API_KEY));
    await anthropic.getByRole('button', { name: 'Save' }).click();
    await anthropic.getByText('Set, ends in …4242').waitFor();
    expect(await anthropic.textContent()).toContain(`via ${model.url}`);
    // Saved, the key is nowhere in the page: not in its HTML, an input, or storage.
    expect(await page.evaluate(PAGE_TEXT)).not.toContain(API_KEY);
    // …and it went through the function, encrypted: the row holds no plain key.
    const [row] = await stack.db.admin`
      select count(*)::int as n, bool_or(row_to_json(c)::text like ${'%' + API_KEY + '%'}) as plain
        from public.credentials c`;
    expect(row).toEqual({ n: 1, plain: false });

    // A project on a local repository; its default agent stays the demo agent.
    await page.getByRole('link', { name: 'SAM' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByLabel('Name').fill('greeter');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'greeter' }).waitFor();

    // Claude Code, picked in the composer for this task.
    await page.getByLabel('Agent', { exact: true }).selectOption({ label: 'Claude Code' });
    await page.getByLabel('Message').fill('Add a greeting file');
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.getByRole('heading', { name: 'Add a greeting file' }).waitFor();
    const taskId = taskIdInUrl(page.url())!;
    expect(taskId).toMatch(/^[0-9a-f-]{36}$/);

    // The agent's tool calls stream in while the task runs: the model holds its next answer until
    // the page shows the first one, so the task cannot have ended yet, however slow the machine.
    await page.locator('ol.messages > li.msg-tool').first().waitFor({ timeout: 240_000 });
    const firstTool = (await page.evaluate('window.__firstTool')) as { status: string };
    expect(firstTool.status).not.toBe('Completed');
    expect(await page.getByTestId('task-status').textContent()).not.toBe('Completed');
    releaseModel();

    await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 120_000 }).toBe('Completed');
    await expect
      .poll(() => page.getByTestId('task-push').getAttribute('data-pushed'), { timeout: 60_000 })
      .toBe('true');
    const branch = (await page.getByTestId('task-branch').textContent())!;
    expect(branch).toMatch(/^sam\/[a-z0-9-]+$/);
    await page
      .locator('ol.messages > li.msg-assistant')
      .filter({ hasText: 'GREETING.md says hello' })
      .first()
      .waitFor();

    // Its tool calls: the file write and SAM's two MCP tools, none failed.
    const tools = page.locator('ol.messages > li.msg-tool');
    const titles = (await tools.locator('.tool-title').allTextContents()).join('\n');
    expect(titles).toMatch(/GREETING\.md/);
    expect(titles).toMatch(/update_task_status/);
    expect(titles).toMatch(/complete_task/);
    expect(await tools.evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.status))).not.toContain(
      'failed',
    );

    // The commit is on the task branch of the user's repository; main is untouched.
    expect(git('branch', '--list', branch)).toContain(branch);
    expect(git('show', `${branch}:GREETING.md`)).toBe('Hello from Claude Code');
    expect(existsSync(join(repo, 'GREETING.md'))).toBe(false);
    expect(git('log', '--format=%an', '-1', branch)).toBe('SAM Agent');
    const [task] = await stack.db.admin`select status, agent_type, branch from public.tasks where id = ${taskId}`;
    expect(task).toEqual({ status: 'completed', agent_type: 'claude-code', branch });

    // What the model was sent: the stored key on every request, a Claude model, SAM's tools.
    const turns = model.turns('anthropic');
    expect(turns.length).toBeGreaterThanOrEqual(4);
    for (const r of model.requests) expect(r.headers['x-api-key'], r.path).toBe(API_KEY);
    for (const t of turns) {
      expect(String(t.body.model)).toMatch(/^claude-/);
      expect(t.tools).toEqual(expect.arrayContaining(['mcp__sam__update_task_status', 'mcp__sam__complete_task']));
    }

    // The key never showed in the page, while saving or while the agent worked.
    expect(await page.evaluate('window.__keySeen')).toBe(false);
    expect(await page.evaluate(PAGE_TEXT)).not.toContain(API_KEY);
    expect(page.errors).toEqual([]);
  }, 420_000);
});
