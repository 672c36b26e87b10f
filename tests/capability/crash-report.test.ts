/**
 * An agent crash as a user meets it, in a real Chromium over the whole local stack: while the demo
 * agent works on a task, its process is SIGKILLed. The vm-agent restarts it and loads the same
 * session; the chat shows a crash report (recovered, the agent, who died, what to do), the task
 * waits for a follow-up, and the Copy button puts the report on the clipboard. A fake key the
 * agent printed to stderr is nowhere: not on the page (what the broadcast delivered), not in the
 * clipboard, not in the stored messages. The user's follow-up then finishes the task.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it, onTestFailed } from 'vitest';
import { processesWithEnv } from '../../local-machines/processes.ts';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { printMachineLogs, taskIdInUrl } from './support.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const FAKE_KEY = 'sk-ant-api03-PLANTEDfake0123456789abcdef';
const stack = useFunctionsStack('crash-report', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '40', SAM_DEMO_AGENT_STDERR: `upstream said: key=${FAKE_KEY}` } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
  page = await browser.newPage();
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: site.url });
}, 60_000);

afterAll(async () => {
  await site?.close();
});

/** The demo agent processes of the machines on the host. */
function demoAgents(): number[] {
  return stack.machines.machines().flatMap((m) =>
    processesWithEnv('HOME', join(stack.machines.baseDir, m.id, 'home')).filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('demo-agent');
      } catch {
        return false;
      }
    }),
  );
}

it('shows a recovered crash report that can be copied, waits for a follow-up, and leaks no key', async () => {
  onTestFailed(async () => {
    printMachineLogs(stack.machines.baseDir);
  });
  await page.goto(site.url);
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill('crash@example.com');
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  await page.getByLabel('Name').fill('crashy');
  await page.getByLabel('Git repository (a local path or a URL)').fill(makeWorkingRepo('crashy'));
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('heading', { name: 'crashy' }).waitFor();

  const message = 'note the crash drill in NOTES.md [stream:400]';
  await page.getByLabel('Message').fill(message);
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.getByRole('heading', { name: message }).waitFor();
  const taskId = taskIdInUrl(page.url())!;

  // The agent is working: thoughts stream in. Then its process dies.
  await page.locator('ol.messages > li.msg-thought').first().waitFor({ timeout: 120_000 });
  const [victim] = demoAgents();
  expect(victim).toBeGreaterThan(0);
  process.kill(victim!, 'SIGKILL');

  const report = page.getByRole('region', { name: 'Agent crash report' });
  await report.waitFor({ timeout: 60_000 });
  expect(await report.getAttribute('data-recovered')).toBe('true');
  await expect.poll(() => report.textContent()).toContain('The agent crashed and was recovered');
  expect(await report.textContent()).toContain('the agent process');
  expect(await report.textContent()).toContain('demo');
  // A new agent process, the same session: the task waits for the user.
  await expect
    .poll(() => page.getByTestId('task-step').textContent(), { timeout: 30_000 })
    .toBe('Waiting for your reply');
  expect(demoAgents().filter((pid) => pid !== victim)).toHaveLength(1);

  await report.getByRole('button', { name: 'Copy report' }).click();
  await report.getByRole('button', { name: 'Copied' }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  expect(copied).toContain('Agent crash report (recovered)');
  expect(copied).toContain('Agent: demo');
  expect(copied).toContain('[REDACTED]');

  // The planted key is nowhere the user or the database can see.
  expect(copied).not.toContain(FAKE_KEY);
  expect(await page.content()).not.toContain(FAKE_KEY);
  const leaks = await stack.db.admin`
    select count(*)::int as n from public.messages where content like ${'%' + FAKE_KEY + '%'}
       or tool_metadata::text like ${'%' + FAKE_KEY + '%'}`;
  expect(leaks[0]!.n).toBe(0);

  // The follow-up continues in the loaded session and the task finishes.
  await page.getByLabel('Reply to the agent').fill('carry on: add a greeting to README');
  await page.getByRole('button', { name: 'Send' }).click();
  await waitFor(
    'the task to complete',
    async () => (await stack.db.admin`select status from public.tasks where id = ${taskId}`)[0]?.status === 'completed',
    120_000,
  );
  expect(page.errors).toEqual([]);
}, 300_000);
