/**
 * The conversation reads well, as a user meets it in a real Chromium against the whole local
 * stack (Auth, PostgREST, Realtime, the functions under Deno, the orchestrator, a local machine
 * running the vm-agent and the demo agent): the agent's plan is one plan revised in place, each
 * tool call is one row with its results that opens to show them, and after the commit the chat
 * shows the diff of the `sam/…` branch, file and hunk, the same as git has it.
 */
import { execFileSync } from 'node:child_process';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { DEMO_GREETING } from '../../vm-agent/demo-agent/scenario.ts';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { printMachineLogs } from './support.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const stack = useFunctionsStack('capability_conversation', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '20' } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
const repo = makeWorkingRepo('readable');
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

/** The rows of one kind in the conversation, with what the test reads from them. */
function rowsOf(role: string) {
  return page.$$eval(`ol.messages > li.msg-${role}`, (lis) =>
    lis.map((li) => ({ ...(li as HTMLElement).dataset, text: li.textContent ?? '' }) as Record<string, string>),
  );
}

describe('the conversation reads well', () => {
  it('shows one plan revised in place, tool calls grouped with their results, and the diff of the commit on the sam/… branch', async () => {
    explainFailure();
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill('reader@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByLabel('Name').fill('readable');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'readable' }).waitFor();
    await page.getByLabel('Message').fill('add a greeting to README');
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.getByRole('heading', { name: 'add a greeting to README' }).waitFor();

    // The diff is recorded after the commit, before the task completes.
    const diff = page.getByTestId('branch-diff');
    await diff.waitFor({ timeout: 120_000 });
    await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 60_000 }).toBe('Completed');
    const branch = (await page.getByTestId('task-branch').textContent())!;
    expect(branch).toMatch(/^sam\//);
    const [task] = await stack.db.admin`select chat_session_id from public.tasks`;
    const stored = await stack.db.admin`
      select role, tool_call_id, tool_status, tool_metadata from public.messages
       where session_id = ${task!.chat_session_id} order by id`;

    // One plan, where the agent first sent it, holding its last revision (every step done).
    const plans = await rowsOf('plan');
    const planRecords = stored.filter((m) => m.role === 'plan');
    expect(planRecords.length).toBeGreaterThan(1);
    expect(plans).toHaveLength(1);
    expect(Number(plans[0]!.revisions)).toBe(planRecords.length - 1);
    const lastPlan = planRecords.at(-1)!.tool_metadata.entries as { status: string }[];
    const steps = page.locator('ol.messages > li.msg-plan li');
    expect(await steps.evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.status))).toEqual(
      lastPlan.map((e) => e.status),
    );
    expect(lastPlan.slice(0, 3).map((e) => e.status)).toEqual(['completed', 'completed', 'completed']);

    // One row per tool call, however many records it took, with the call's latest status.
    const tools = await rowsOf('tool');
    const latest = new Map<string, string>();
    for (const m of stored) if (m.role === 'tool' && m.tool_status) latest.set(m.tool_call_id, m.tool_status);
    expect(tools).toHaveLength(latest.size);
    expect(tools.map((t) => t.status)).toEqual([...latest.values()]);
    expect(tools.filter((t) => t.kind === 'read' || t.kind === 'edit').map((t) => [t.status, t.records])).toEqual([
      ['completed', '3'],
      ['completed', '3'],
    ]);

    // Opening the edit shows its input and the file's change as the agent reported it.
    const edit = page.locator('ol.messages > li.msg-tool[data-kind="edit"]');
    expect(await edit.locator('.tool-detail').count()).toBe(0);
    await edit.locator('summary').first().click();
    await edit.locator('.tool-detail').waitFor();
    expect(await edit.locator('.tool-input').textContent()).toContain(DEMO_GREETING);
    const added = edit.locator('.diff-line.diff-add');
    expect(await added.allTextContents()).toEqual([`+${DEMO_GREETING}`]);
    // It names the file as the repository does (the branch's diff below too), not the machine's path.
    expect(await edit.locator('.tool-locations code').allTextContents()).toEqual(['README.md']);
    expect(await edit.locator('.diff-file').getAttribute('data-path')).toBe('README.md');
    // And closes again (the details' toggle event, which unmounts the detail, comes after the click).
    await edit.locator('summary').first().click();
    await expect.poll(() => edit.locator('.tool-detail').count()).toBe(0);

    // The branch's diff: its one file and hunk, the same as git has for main...branch.
    expect(await diff.textContent()).toContain(branch);
    const numstat = git('diff', '--numstat', `main...${branch}`).split('\n');
    expect(numstat).toEqual([`1\t0\tREADME.md`]);
    const file = diff.locator('.diff-file');
    expect(await file.getAttribute('data-path')).toBe('README.md');
    expect(await file.locator('summary').textContent()).toContain('+1 −0');
    const hunkHeader = git('diff', `main...${branch}`)
      .split('\n')
      .find((l) => l.startsWith('@@'))!;
    expect(await file.locator('.diff-hunk-header').textContent()).toBe(hunkHeader);
    expect(await file.locator('.diff-line.diff-add').allTextContents()).toEqual([`+${DEMO_GREETING}`]);
    // The file list collapses.
    await file.locator('summary').click();
    await expect.poll(() => file.locator('.diff-hunk').count()).toBe(0);

    // After a reload (everything read again from the database) it reads the same.
    await page.reload();
    await diff.waitFor();
    expect(await rowsOf('plan')).toHaveLength(1);
    expect(await rowsOf('tool')).toHaveLength(latest.size);
    expect(page.errors).toEqual([]);
  }, 240_000);
});
