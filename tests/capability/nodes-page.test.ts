/**
 * "Add a machine" in a real Chromium: the machines page (`#/nodes`) shows the one command; pasted by
 * another local user on this host it enrols their machine, which the page then lists as theirs
 * (provider, size, state, health, warm until, workspaces); "Remove" deregisters it and its vm-agent
 * stops.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { createLocalUser, type LocalUser } from '../helpers/byo-user.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { waitFor } from '../helpers/wait.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const stack = useFunctionsStack('nodes-page', { allServices: true });
const browser = useBrowser();
let site: WebSite;
let page: Page;
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

    await row().getByRole('button', { name: 'Remove Laptop' }).click();
    await expect.poll(() => row().count(), { timeout: 30_000 }).toBe(0);
    await waitFor('the vm-agent on the machine to stop', () => person.processes('sam-vm-agent').length === 0, 90_000);
  }, 240_000);
});
