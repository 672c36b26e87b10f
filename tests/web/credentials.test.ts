import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { serveWeb, type WebSite } from './site.ts';

/**
 * The settings page in a real Chromium against every service, the credentials function under
 * Deno: a user saves a model key, sees only "set, ends in …", replaces and deletes it; the key
 * never comes back to the browser in any response, and is stored only as ciphertext.
 */
const stack = useFunctionsStack('web_credentials', { allServices: true });
const browser = useBrowser();
let site: WebSite;

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
}, 60_000);

afterAll(async () => {
  await site?.close();
});

it('saves a model key write-only from the settings page, replaces it and deletes it', async () => {
  const page = await browser.newPage();
  const bodies: string[] = [];
  page.on('response', (res) => {
    void res
      .text()
      .then((text) => bodies.push(text))
      .catch(() => {});
  });
  await page.goto(site.url);
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(`keys-${randomUUID().slice(0, 8)}@example.com`);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();

  await page.getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Model keys' }).waitFor();
  const anthropic = page.locator('li.credential[data-provider="anthropic"]');
  await anthropic.getByText('Not set').waitFor();

  const key = `sk-ant-${randomBytes(20).toString('hex')}`;
  await page.getByRole('button', { name: 'Set Anthropic' }).click();
  await page.getByLabel('Anthropic key').fill(key);
  await page.getByLabel('Base URL (optional, for a gateway or proxy)').first().fill('https://llm-gateway.example.com');
  await page.getByRole('button', { name: 'Save' }).click();
  await anthropic.getByText(`Set, ends in …${key.slice(-4)} — for all my projects`).waitFor();
  await anthropic.getByText('via https://llm-gateway.example.com').waitFor();
  expect(await page.locator('input[type="password"]').count()).toBe(0);

  // The URL names the view: a reload lands on the same page, showing the same state.
  expect(new URL(page.url()).hash).toBe('#/settings');
  await page.reload();
  await anthropic.getByText(`Set, ends in …${key.slice(-4)}`).waitFor();

  const rows = await stack.db.admin`select provider, hint, ciphertext from public.credentials`;
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ provider: 'anthropic', hint: key.slice(-4) });
  expect(Buffer.from(rows[0]!.ciphertext as Uint8Array).toString('latin1')).not.toContain(key);

  // Replace in place: still one row, the new ending shown.
  const replacement = `sk-ant-${randomBytes(20).toString('hex')}`;
  await page.getByRole('button', { name: 'Replace Anthropic' }).click();
  await page.getByLabel('Anthropic key').fill(replacement);
  await page.getByRole('button', { name: 'Save' }).click();
  await anthropic.getByText(`Set, ends in …${replacement.slice(-4)}`).waitFor();
  const [count] = await stack.db.admin`select count(*)::int as n from public.credentials`;
  expect(count!.n).toBe(1);

  await page.getByRole('button', { name: 'Delete the Anthropic credential for all my projects' }).click();
  await anthropic.getByText('Not set').waitFor();
  const [after] = await stack.db.admin`select count(*)::int as n from public.credentials`;
  expect(after!.n).toBe(0);

  // Nothing the browser received ever held either key.
  expect(bodies.length).toBeGreaterThan(3);
  for (const body of bodies) {
    expect(body).not.toContain(key);
    expect(body).not.toContain(replacement);
  }
  expect(await page.content()).not.toContain(key);
  await page.close();
});
