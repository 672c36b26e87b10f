/**
 * Controls on a task, as a user meets them in a real Chromium against the whole local stack (Auth,
 * PostgREST, Realtime, the functions under Deno, the orchestrator, local machines running the
 * vm-agent and the demo agent, paced so a stop lands while it works): a stop with a grace (the
 * agent is told to commit and finish, the task is cancelled by the minute's pg_cron sweep when the
 * grace ends), a retry with a note, a fork from a message of the conversation, a stop without
 * grace, and the composer's execution options (profile, agent, mode, machine, size, a chosen node)
 * reaching the task row.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { serveWeb, type WebSite } from '../web/site.ts';
import { scheduleCronIn, printMachineLogs, taskIdInUrl } from './support.ts';

const stack = useFunctionsStack('capability_controls', {
  allServices: true,
  // Slow enough that the stop is clicked while the agent is still in its first turn.
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '400' } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
const repo = makeWorkingRepo('steered');

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
    console.log(await stack.db.admin`select id, title, status, execution_step, error_message from public.tasks`);
  });
}

const openTaskId = () => taskIdInUrl(page.url());
const composer = () => page.locator('form.composer');
const status = () => page.getByTestId('task-status').textContent();

async function stopNow(): Promise<void> {
  await page.getByLabel('Stop', { exact: true }).selectOption({ label: 'now' });
  await page.getByTestId('stop-task').click();
  await expect.poll(status, { timeout: 15_000 }).toBe('Cancelled');
}

describe('controls on a task', () => {
  let first: string;
  let projectId: string;

  it('stops a working agent with a grace: it is told to commit and finish, and the task is cancelled when the grace ends', async () => {
    explainFailure();
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill('controls@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByLabel('Name').fill('steered');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'steered' }).waitFor();

    // A conversation: the agent stays until stopped, so only the stop can end this task.
    await composer().getByLabel('Mode', { exact: true }).selectOption('conversation');
    await page.getByLabel('Message').fill('Note the plan in README.md');
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.getByRole('heading', { name: 'Note the plan in README.md' }).waitFor();
    first = openTaskId()!;
    [{ project_id: projectId }] = (await stack.db.admin`select project_id from public.tasks where id = ${first}`) as [
      { project_id: string },
    ];

    // Mid-run: the agent has started talking, its turn has not ended.
    await page.locator('ol.messages > li.msg-assistant').first().waitFor({ timeout: 120_000 });
    expect(await page.locator('ol.messages > li.msg-system').filter({ hasText: 'Turn ended' }).count()).toBe(0);
    await page.getByLabel('Stop', { exact: true }).selectOption({ label: 'after 15 s' });
    await page.getByTestId('stop-task').click();

    await page.getByTestId('task-stopping').waitFor();
    expect(await page.getByTestId('task-stopping').textContent()).toMatch(
      /^Stopping: the agent has until .+ to commit/,
    );
    await page.locator('ol.messages > li.msg-system').filter({ hasText: 'Stop requested' }).waitFor();
    expect(await status()).toBe('In progress');

    const admin = stack.db.admin;
    const [request] = await admin`
      select t.stop_deadline - t.stop_requested_at as grace, d.kind, d.metadata, c.status as command, c.payload
        from public.tasks t join public.directives d on d.task_id = t.id
        join public.node_commands c on c.payload ->> 'directiveId' = d.id::text
       where t.id = ${first}`;
    expect(request).toMatchObject({ kind: 'stop_warning', metadata: { by: 'user', graceSeconds: 15 } });
    expect(request!.payload.content).toContain('commit your work now');
    // The machine takes the prompt: the agent is told once its current turn ends.
    await waitFor('the machine to take the stop prompt', async () => {
      const [c] =
        await admin`select status from public.node_commands where payload ->> 'directiveId' = ${request!.payload.directiveId}`;
      return c!.status === 'done';
    });

    // pg_cron's minute sweep, as on the platform, cancels the task once the grace is over.
    const unschedule = await scheduleCronIn(stack.db.name, 'sam-test-stop-sweep', 'select public.sweep_task_stops()');
    try {
      await expect.poll(status, { timeout: 150_000, interval: 1000 }).toBe('Cancelled');
    } finally {
      await unschedule();
    }
    expect(await page.getByTestId('task-outcome').textContent()).toContain('Task cancelled.');
    const events = await admin`select to_status, reason, actor_type from public.task_events
                                where task_id = ${first} and (reason like 'stop requested%' or to_status = 'cancelled')
                                order by id`;
    expect(events.map((e) => `${e.actor_type}: ${e.reason}`)).toEqual([
      'user: stop requested with 15 s of grace: stopped by the user',
      'system: stopped by the user (grace ended)',
    ]);
    expect(page.errors).toEqual([]);
  }, 360_000);

  it('retries the stopped task with a note: the new attempt opens with the note, and stops at once without grace', async () => {
    explainFailure();
    await page.getByTestId('retry-task').click();
    await page.getByLabel('Note for the new attempt (optional)').fill('Keep the README short this time');
    await page.getByRole('button', { name: 'Start new attempt' }).click();
    await expect.poll(openTaskId, { timeout: 20_000 }).not.toBe(first);
    const retry = openTaskId()!;
    await page.locator(`article.task[data-task-id="${retry}"]`).waitFor();
    await page.locator('ol.messages > li.msg-user').filter({ hasText: 'Keep the README short this time' }).waitFor();
    const [row] = await stack.db
      .admin`select triggered_by, source_task_id, task_mode, description from public.tasks where id = ${retry}`;
    expect(row).toMatchObject({ triggered_by: 'retry', source_task_id: first, task_mode: 'conversation' });
    expect(row!.description).toContain('Note from the user for this attempt: Keep the README short this time');

    await stopNow();
    const [after] = await stack.db.admin`select status, stop_deadline from public.tasks where id = ${retry}`;
    expect(after).toMatchObject({ status: 'cancelled', stop_deadline: null });
    expect(page.errors).toEqual([]);
  }, 120_000);

  it('forks from a message of the conversation: the fork opens and carries the conversation up to that message', async () => {
    explainFailure();
    await page.goto(`${site.url}#/p/${projectId}/t/${first}`);
    const said = page.locator('ol.messages > li.msg-assistant');
    await said.first().waitFor();
    expect(await said.count()).toBeGreaterThan(1);
    const point = said.first();
    const pointText = (await point.locator('.msg-text').textContent())!.trim();
    await point.getByTestId('fork-message').click();
    await point.getByLabel('New message from this point').fill('Write it in French instead');
    await point.getByRole('button', { name: 'Fork', exact: true }).click();

    await expect.poll(openTaskId, { timeout: 20_000 }).not.toBe(first);
    const forked = openTaskId()!;
    await page.locator(`article.task[data-task-id="${forked}"]`).waitFor();
    await page.locator('ol.messages > li.msg-user').filter({ hasText: 'Write it in French instead' }).waitFor();
    await page.locator('ol.messages details.system-context').waitFor();

    const [row] = await stack.db
      .admin`select triggered_by, source_task_id, chat_session_id from public.tasks where id = ${forked}`;
    expect(row).toMatchObject({ triggered_by: 'fork', source_task_id: first });
    const [context] = await stack.db.admin`select content from public.messages
                                            where session_id = ${row!.chat_session_id} and message_id = 'fork-context'`;
    // Up to that message and no further: the user's first message, then the agent's first words, ending there.
    expect(context!.content).toContain('User: Note the plan in README.md\n\nAgent: ');
    expect((context!.content as string).trimEnd().endsWith(pointText)).toBe(true);

    await stopNow();
    expect(page.errors).toEqual([]);
  }, 120_000);

  it("sends the composer's execution options, and the task records them", async () => {
    explainFailure();
    const admin = stack.db.admin;
    const [owner] = await admin`select owner_id from public.projects where id = ${projectId}`;
    const [profile] = await admin`insert into public.agent_profiles (project_id, owner_id, name, agent_type)
                                  values (${projectId}, ${owner!.owner_id}, 'steady', 'demo') returning id`;
    // A node of the user's that went idle when its task was stopped.
    const idle = await waitFor(
      'a node of the user to be idle',
      async () => (await admin`select id from public.nodes where status = 'warm' order by created_at limit 1`)[0],
      90_000,
      500,
    );
    await page.goto(`${site.url}#/p/${projectId}`);
    await page.reload();
    await composer()
      .getByLabel('Node', { exact: true })
      .selectOption(idle.id as string);
    await composer().getByLabel('Mode', { exact: true }).selectOption('task');
    await page.getByLabel('Message').fill('Run this on my idle node');
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.getByRole('heading', { name: 'Run this on my idle node' }).waitFor();
    const pinned = openTaskId()!;
    const [onNode] = await admin`select t.node_id, t.task_mode, w.node_id as workspace_node
                                   from public.tasks t join public.workspaces w on w.task_id = t.id where t.id = ${pinned}`;
    expect(onNode).toMatchObject({ node_id: idle.id, task_mode: 'task', workspace_node: idle.id });
    await stopNow();

    await composer().getByLabel('Profile', { exact: true }).selectOption({ label: 'steady' });
    await composer().getByLabel('Agent', { exact: true }).selectOption('demo');
    await composer().getByLabel('Mode', { exact: true }).selectOption('conversation');
    await composer().getByLabel('Machine', { exact: true }).selectOption('local');
    await composer().getByLabel('Size', { exact: true }).selectOption('small');
    await page.getByLabel('Message').fill('Run this with my choices');
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.getByRole('heading', { name: 'Run this with my choices' }).waitFor();
    const chosen = openTaskId()!;
    const [row] =
      await admin`select agent_profile_id, agent_type, task_mode, provider, vm_size from public.tasks where id = ${chosen}`;
    expect(row).toEqual({
      agent_profile_id: profile!.id,
      agent_type: 'demo',
      task_mode: 'conversation',
      provider: 'local',
      vm_size: 'small',
    });
    await stopNow();
    expect(page.errors).toEqual([]);
  }, 180_000);
});
