import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { useTestStack } from '../helpers/local-stack.ts';
import { serveWeb, type WebSite } from './site.ts';

/** Sign-up with email confirmation on (the hosted default) and Auth errors shown in words. */
const t = useTestStack({ emailConfirmation: true }, 'web_auth');
const browser = useBrowser();
let site: WebSite;

beforeAll(async () => {
  site = await serveWeb(t.url, t.publishableKey);
}, 60_000);

afterAll(async () => {
  await site?.close();
});

it('asks the user to confirm their email, then explains unconfirmed and wrong-password sign-ins', async () => {
  const page = await browser.newPage();
  await page.goto(site.url);
  await page.getByRole('button', { name: 'Create an account' }).click();
  const email = `confirm-${randomUUID().slice(0, 8)}@example.com`;
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();

  const notice = page.getByRole('status').filter({ hasText: 'Check your email' });
  await notice.waitFor();
  expect(await notice.textContent()).toContain(email);
  const mail = readFileSync(join(t.stack.ctx.runtimeDir, 'mailbox.jsonl'), 'utf8');
  expect(mail).toContain(email);

  // Back on the sign-in form: not confirmed yet.
  await page.getByRole('heading', { name: 'Sign in to SAM' }).waitFor();
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'confirm your email' }).waitFor();

  // A wrong password reads as words, not as an error code.
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'That email and password do not match an account.' }).waitFor();
  expect(await page.getByRole('heading', { name: 'Projects' }).count()).toBe(0);
  // Auth answered 400 for both attempts; the browser logs those, nothing else.
  expect(page.errors.filter((e) => !e.includes('400'))).toEqual([]);
}, 60_000);
