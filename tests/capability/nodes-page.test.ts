/**
 * The machines page (`#/nodes`) in a real Chromium. "Add a machine" shows the one command; pasted by
 * another local user on this host it enrols their machine, which the page then lists as theirs
 * (provider, size, state, health, warm until, workspaces); "Remove", once confirmed, deregisters it
 * and its vm-agent stops. A machine SAM made for a task lists its workspace with the task (linked),
 * goes warm until a time after the task, and "Destroy", once confirmed, destroys it.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { createLocalUser, type LocalUser } from '../helpers/byo-user.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo } from '../helpers/user-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const stack = useFunctionsStack('nodes-page', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '5' } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
let person: LocalUser;

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
  page = await browser.newPage();
  person = createLocalUser();
}, 180_000); // the web build (vite) is slow on a busy machine

afterAll(async () => {
  await person?.close();
  await site?.close();
});

const row = () => page.locator('table.node-list tbody tr').filter({ hasText: 'Laptop' });

describe('the machines page', () => {
  it('shows the command that enrols a machine, lists the registered machine, and removes it', async () => {
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill('byo@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();

    await page.getByRole('link', { name: 'Machines' }).click();
    await page.getByRole('heading', { name: 'Machines' }).waitFor();
    expect(new URL(page.url()).hash).toBe('#/nodes');
    await page.getByLabel('Name').fill('Laptop');
    await page.getByLabel('Size').selectOption('large');
    await page.getByRole('button', { name: 'Add a machine' }).click();
    const command = (await page.getByTestId('byo-command').textContent())!;
    expect(command).toContain(`'${stack.url}/functions/v1/vm-agent/bundle?sha256=`);
    expect(command).toMatch(/echo "[0-9a-f]{64} {2}\$d\/vm-agent\.mjs\.part" \| sha256sum -c -/);
    expect(command).toMatch(/SAM_BOOTSTRAP_TOKEN='[A-Za-z0-9_-]{40,}' node "\$d\/vm-agent\.mjs" install/);
    await expect.poll(() => row().getByTestId('node-status').textContent(), { timeout: 30_000 }).toBe('provisioning');
    expect(await row().textContent()).toContain('not registered yet');

    const install = await person.sh(command);
    expect(install.code, install.output).toBe(0);

    // The page re-reads the list while open: the machine shows up registered and healthy.
    await expect.poll(() => row().getByTestId('node-status').textContent(), { timeout: 90_000 }).toBe('warm');
    const cells = await row().locator('td').allTextContents();
    expect(cells.slice(0, 4)).toEqual(['Laptop', 'your machine', 'large', 'warm']);
    expect(cells[4]).toMatch(/^healthy, last heartbeat \d+ s ago$/);
    expect(cells[5]).toBe('always (your machine)');
    expect(cells[6]).toBe('0');

    // Removing asks first; "Cancel" keeps the machine.
    await row().getByRole('button', { name: 'Remove Laptop' }).click();
    const confirm = row().getByRole('alertdialog', { name: 'Remove Laptop?' });
    expect(await confirm.textContent()).toContain('SAM stops using Laptop; the machine itself stays.');
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    expect(await row().getByTestId('node-status').textContent()).toBe('warm');
    await row().getByRole('button', { name: 'Remove Laptop' }).click();
    await confirm.getByRole('button', { name: 'Yes, remove Laptop' }).click();
    await expect.poll(() => row().count(), { timeout: 30_000 }).toBe(0);
    await waitFor('the vm-agent on the machine to stop', () => person.processes('sam-vm-agent').length === 0, 90_000);
  }, 240_000);

  it("lists a task's machine with its workspace and task, warm until later, and destroys it once confirmed", async () => {
    const repo = makeWorkingRepo('noded');
    await page.getByRole('link', { name: 'SAM' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByLabel('Name').fill('noded');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'noded' }).waitFor();
    await page.getByLabel('Message').fill('Note the machine in README.md');
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.getByRole('heading', { name: 'Note the machine in README.md' }).waitFor();
    const taskHash = new URL(page.url()).hash;
    await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 120_000 }).toBe('Completed');

    await page.getByRole('link', { name: 'Machines' }).click();
    const node = page.locator('table.node-list tbody tr').filter({ hasText: 'Auto: Note the machine in README.md' });
    await expect.poll(() => node.getByTestId('node-status').textContent(), { timeout: 60_000 }).toBe('warm');
    const [db] = await stack.db
      .admin`select id, warm_until from public.nodes where name = 'Auto: Note the machine in README.md'`;
    const cells = await node.locator('td').allTextContents();
    expect(cells.slice(1, 4)).toEqual(['local', 'medium', 'warm']);
    expect(cells[4]).toMatch(/^healthy, last heartbeat \d+ s ago$/);
    expect(cells[5]).toBe(
      await page.evaluate((iso) => new Date(iso).toLocaleString(), (db!.warm_until as Date).toISOString()),
    );
    expect(await node.getByTestId('node-workspace-count').textContent()).toBe('0');
    const workspace = node.getByTestId('node-workspace');
    await expect
      .poll(() => workspace.textContent(), { timeout: 30_000 })
      .toBe('workspace stopped · Note the machine in README.md Completed');
    expect(await workspace.getByRole('link').getAttribute('href')).toBe(taskHash);

    await node.getByRole('button', { name: 'Destroy Auto: Note the machine in README.md' }).click();
    const confirm = node.getByRole('alertdialog');
    expect(await confirm.textContent()).toContain('is shut down and deleted.');
    await confirm.getByRole('button', { name: 'Yes, destroy Auto: Note the machine in README.md' }).click();
    await expect.poll(() => node.count(), { timeout: 90_000 }).toBe(0);
    const [gone] = await stack.db.admin`select status from public.nodes where id = ${db!.id}`;
    expect(gone!.status).toBe('destroyed');
    expect(page.errors).toEqual([]);
  }, 240_000);
});
