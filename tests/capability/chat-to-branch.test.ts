/**
 * The capability, as a user meets it: in a real Chromium, sign up, link a fresh local git
 * repository, ask for "add a greeting to README", watch the agent's messages and tool calls stream
 * in while it works, see the task complete, and find the agent's commit on the `sam/…` branch.
 * Every part is real: Auth, PostgREST, Realtime, the functions under Deno, pg_net waking the
 * orchestrator, the local provider starting a vm-agent process, git, the demo agent over ACP with
 * SAM's MCP server. Then: the next task reuses the warm node, and after the (shortened) warm
 * timeout the pg_cron sweep destroys the node and its process exits.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { DEMO_GREETING } from '../../vm-agent/demo-agent/scenario.ts';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { serveWeb, type WebSite } from '../web/site.ts';
import { processAlive } from '../helpers/processes.ts';
import { waitFor } from '../helpers/wait.ts';
import { scheduleCronIn, printMachineLogs, taskIdInUrl } from './support.ts';

const stack = useFunctionsStack('capability', {
  allServices: true,
  // Paced so a person (and this test) sees the run unfold before it ends.
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '40' } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
const repo = makeWorkingRepo('greeter');

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
  page = await browser.newPage();
}, 60_000);

afterAll(async () => {
  await site?.close();
});

const git = (...args: string[]) => execFileSync('git', ['-C', repo, ...args], { encoding: 'utf8' }).trim();

/**
 * Records, in the page, what the task's status said when the first tool call row appeared: the
 * proof that output streamed while the task ran rather than showing up all at once at the end.
 */
const WATCH_FIRST_TOOL = `(() => {
  window.__firstTool = null;
  new MutationObserver(() => {
    if (window.__firstTool === null && document.querySelector('ol.messages > li.msg-tool')) {
      window.__firstTool = {
        status: document.querySelector('[data-testid="task-status"]')?.textContent ?? null,
        rows: document.querySelectorAll('ol.messages > li').length,
      };
    }
  }).observe(document, { subtree: true, childList: true });
})();`;

/** On failure, what the machines said (their vm-agent logs) and where the tasks stood. */
function explainFailure(): void {
  onTestFailed(async () => {
    printMachineLogs(stack.machines.baseDir);
    console.log(await stack.db.admin`select title, status, execution_step, branch, error_message from public.tasks`);
  });
}

async function submitInChat(message: string): Promise<string> {
  await page.evaluate(WATCH_FIRST_TOOL);
  await page.getByLabel('Message').fill(message);
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.getByRole('heading', { name: message }).waitFor();
  const taskId = taskIdInUrl(page.url());
  expect(taskId).toMatch(/^[0-9a-f-]{36}$/);
  return taskId!;
}

/** The task completed and the chat says its work is on the branch (the machine's push was recorded). */
async function completedAndPushed(): Promise<void> {
  await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 90_000 }).toBe('Completed');
  await expect.poll(() => page.getByTestId('task-push').getAttribute('data-pushed'), { timeout: 30_000 }).toBe('true');
  expect(await page.getByTestId('task-push').textContent()).toMatch(/^pushed \([0-9a-f]{7}\)$/);
}

describe('from a message in the chat to a pushed branch', () => {
  let firstNode: { id: string; pid: number };

  it('signs up, links a local repository, asks for a greeting, watches the agent work live, and finds its commit on the sam/… branch', async () => {
    explainFailure();
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill('dev@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();

    await page.getByLabel('Name').fill('greeter');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    expect(await page.getByLabel('Agent').inputValue()).toBe('demo');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'greeter' }).waitFor();

    const taskId = await submitInChat('add a greeting to README');
    // While a machine is found and started, the step is shown in words.
    expect(await page.getByTestId('task-step').textContent()).toMatch(/server/i);

    // The agent's output streams in: a thought, messages, and tool calls, while the task runs.
    await page.locator('ol.messages > li.msg-tool').first().waitFor({ timeout: 90_000 });
    const firstTool = (await page.evaluate('window.__firstTool')) as { status: string; rows: number };
    expect(firstTool.status).not.toBe('Completed');
    await page.locator('ol.messages > li.msg-assistant').first().waitFor();
    await page.locator('ol.messages > li.msg-thought').first().waitFor();

    await completedAndPushed();
    const branch = (await page.getByTestId('task-branch').textContent())!;
    expect(branch).toMatch(/^sam\/[a-z0-9-]+$/);
    // Tool calls the agent made show as done; the agent's summary is in the conversation.
    const tools = page.locator('ol.messages > li.msg-tool');
    expect(await tools.count()).toBeGreaterThanOrEqual(2);
    expect(await tools.evaluateAll((lis) => lis.map((li) => (li as HTMLElement).dataset.status))).not.toContain(
      'failed',
    );
    await page.locator('ol.messages > li.msg-assistant').filter({ hasText: 'Done' }).first().waitFor();

    // The commit is on the task branch of the user's repository; main is untouched.
    expect(git('branch', '--list', branch)).toContain(branch);
    const readme = git('show', `${branch}:README.md`);
    expect(readme).toContain(DEMO_GREETING);
    expect(readFileSync(join(repo, 'README.md'), 'utf8')).not.toContain(DEMO_GREETING);
    expect(git('log', '--format=%an', '-1', branch)).toBe('SAM Agent');
    expect(Number(git('rev-list', '--count', `main..${branch}`))).toBeGreaterThanOrEqual(1);

    // What ran it: one node, now warm, one machine process on the host.
    const [node] = await stack.db.admin`
      select n.id, n.status from public.nodes n join public.tasks t on t.node_id = n.id where t.id = ${taskId}`;
    expect(node!.status).toBe('warm');
    const machines = stack.machines.machines();
    expect(machines).toHaveLength(1);
    expect(machines[0]!.labels['sam-node-id']).toBe(node!.id);
    firstNode = { id: node!.id as string, pid: machines[0]!.pid! };
    expect(page.errors).toEqual([]);
  }, 180_000);

  it('runs the next task on the warm node, and once the warm timeout passes the pg_cron sweep destroys the node and its process exits', async () => {
    explainFailure();
    const admin = stack.db.admin;
    const [project] = await admin`select id from public.projects where name = 'greeter'`;
    // Shortened for the test: the node stays warm for 2 seconds after this task.
    await admin`insert into public.project_settings (project_id, key, value)
                values (${project!.id}, 'warm_timeout', '"2 seconds"')`;

    const taskId = await submitInChat('add a farewell line to README');
    await completedAndPushed();
    const [task] = await admin`select node_id from public.tasks where id = ${taskId}`;
    expect(task!.node_id).toBe(firstNode.id);
    const nodes = await admin`select id from public.nodes`;
    expect(nodes).toHaveLength(1);
    const [placed] = await admin`
      select count(*)::int as n from public.orchestrator_jobs where kind = 'provision_node'`;
    expect(placed!.n).toBe(1);
    expect(stack.machines.machines().map((m) => m.pid)).toEqual([firstNode.pid]);
    const branch = (await page.getByTestId('task-branch').textContent())!;
    expect(git('show', `${branch}:README.md`)).toContain('add a farewell line to README');

    // pg_cron (minute schedule) runs the warm sweep in this database; the orchestrator deletes the machine.
    const unschedule = await scheduleCronIn(stack.db.name, 'sam-test-warm-sweep', 'select public.sweep_warm_nodes()');
    try {
      await waitFor(
        'the warm node to be destroyed by the sweep',
        async () => {
          const [n] = await admin`select status from public.nodes where id = ${firstNode.id}`;
          return n!.status === 'destroyed';
        },
        150_000,
      );
    } finally {
      await unschedule();
    }
    const [event] = await admin`
      select reason, actor_type from public.lifecycle_events
       where entity = 'node' and entity_id = ${firstNode.id} and to_state = 'destroying'`;
    expect(event).toMatchObject({ reason: 'warm timeout', actor_type: 'system' });
    await waitFor('the vm-agent process to exit', () => !processAlive(firstNode.pid), 20_000);
    expect(stack.machines.machines()).toEqual([]);
    expect(page.errors).toEqual([]);
  }, 240_000);
});
