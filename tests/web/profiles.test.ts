import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useBrowser } from '../helpers/browser.ts';
import { useTestStack } from '../helpers/local-stack.ts';
import { checkDraft, emptyDraft, type ProfileDraft } from '../../web/src/lib/profile-form.ts';
import { serveWeb, type WebSite } from './site.ts';

/**
 * A project's agent profiles in a real Chromium against a test stack: the form refuses what the
 * table would (in words, before asking) and shows the server's refusals in words; a profile is
 * created, made the default, edited from its URL after a reload, deleted; the composer's picker
 * starts on the default and what the user picks is what the task runs with — "No profile" too,
 * though the project has a default.
 */
const t = useTestStack({ emailConfirmation: false }, 'web_profiles');
const browser = useBrowser();
let site: WebSite;

beforeAll(async () => {
  site = await serveWeb(t.url, t.publishableKey);
}, 60_000);

afterAll(async () => {
  await site?.close();
});

it('manages a project’s profiles and runs tasks with the one picked in the composer', async () => {
  const page = await browser.newPage();
  await page.goto(site.url);
  await page.getByRole('button', { name: 'Create an account' }).click();
  await page.getByLabel('Email').fill(`profiles-${randomUUID().slice(0, 8)}@example.com`);
  await page.getByLabel('Password').fill('correct horse battery');
  await page.getByRole('button', { name: 'Sign up' }).click();
  await page.getByRole('heading', { name: 'Projects' }).waitFor();
  await page.getByLabel('Name').fill('handbook');
  await page.getByLabel('Git repository (a local path or a URL)').fill('/srv/git/handbook');
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('heading', { name: 'handbook' }).waitFor();
  const [project] = await t.db.admin`select id from public.projects`;
  const projectId = project!.id as string;

  // From the project chat to its profiles page: none yet.
  await page.getByRole('link', { name: 'Agent profiles' }).click();
  await page.getByRole('heading', { name: 'Agent profiles' }).waitFor();
  await page.getByText('No profiles yet').waitFor();
  expect(new URL(page.url()).hash).toBe(`#/p/${projectId}/profiles`);

  // The form checks what the table checks, in words, and sends nothing until it holds.
  await page.getByRole('link', { name: 'New profile' }).click();
  await page.getByRole('heading', { name: 'New profile' }).waitFor();
  expect(new URL(page.url()).hash).toBe(`#/p/${projectId}/profiles?edit=new`);
  const form = page.locator('form.profile-form');
  await form.getByLabel('Name').fill('-docs!');
  await form.getByLabel('Model (optional)').fill('gpt 5');
  await form.getByLabel('Max turns').fill('5000');
  await form.getByRole('button', { name: 'Save profile' }).click();
  await form.getByText('A name is up to 64 letters, digits, spaces, dots, dashes or underscores').waitFor();
  await form.getByText('A model name is up to 128 letters').waitFor();
  await form.getByText('Max turns is between 1 and 1,000.').waitFor();
  expect(await form.getByLabel('Name').getAttribute('aria-invalid')).toBe('true');
  const [none] = await t.db.admin`select count(*)::int as n from public.agent_profiles`;
  expect(none!.n).toBe(0);

  await form.getByLabel('Name').fill('docs writer');
  await form.getByLabel('Agent').selectOption({ label: 'Codex' });
  await form.getByLabel('Model (optional)').fill('gpt-5.3-codex');
  await form.getByLabel('Task mode').selectOption('conversation');
  await form.getByLabel('Max turns').fill('40');
  await form.getByRole('button', { name: 'Save profile' }).click();
  const docs = page.locator('li.profile').filter({ hasText: 'docs writer' });
  await docs.waitFor();
  expect(await docs.textContent()).toContain('gpt-5.3-codex');
  expect(new URL(page.url()).hash).toBe(`#/p/${projectId}/profiles`);
  const [stored] = await t.db.admin`
    select id, agent_type, model, permission_mode, task_mode::text, max_turns, workspace_profile from public.agent_profiles`;
  expect(stored).toMatchObject({
    agent_type: 'codex',
    model: 'gpt-5.3-codex',
    permission_mode: 'auto',
    task_mode: 'conversation',
    max_turns: 40,
    workspace_profile: null,
  });
  const profileId = stored!.id as string;

  // The server's refusal in words: a second profile with a taken name.
  await page.getByRole('link', { name: 'New profile' }).click();
  await form.getByLabel('Name').fill('docs writer');
  await form.getByRole('button', { name: 'Save profile' }).click();
  await form.getByText('This project already has a profile named “docs writer”. Choose another name.').waitFor();
  await form.getByLabel('Name').fill('scratch');
  await form.getByRole('button', { name: 'Save profile' }).click();
  await page.locator('li.profile').filter({ hasText: 'scratch' }).waitFor();

  // Make "docs writer" the default: stored on the project, shown on the list.
  await page.getByRole('button', { name: 'Make docs writer the default' }).click();
  await docs.getByText('Default', { exact: true }).waitFor();
  const [withDefault] = await t.db.admin`select default_agent_profile_id from public.projects`;
  expect(withDefault!.default_agent_profile_id).toBe(profileId);

  // The open form is in the URL: a reload lands on it, filled from what is stored; an edit is saved.
  await page.goto(`${site.url}#/p/${projectId}/profiles?edit=${profileId}`);
  await page.reload();
  await page.getByRole('heading', { name: 'Edit “docs writer”' }).waitFor();
  expect(await form.getByLabel('Model (optional)').inputValue()).toBe('gpt-5.3-codex');
  expect(await form.getByLabel('Agent').inputValue()).toBe('codex');
  expect(await form.getByLabel('Task mode').inputValue()).toBe('conversation');
  expect(await form.getByLabel('Max turns').inputValue()).toBe('40');
  await form.getByLabel('Instructions (optional)').fill('Write docs only.');
  await form.getByRole('button', { name: 'Save profile' }).click();
  await page.getByRole('heading', { name: 'Edit “docs writer”' }).waitFor({ state: 'detached' });
  const [edited] = await t.db.admin`select instructions from public.agent_profiles where id = ${profileId}`;
  expect(edited!.instructions).toBe('Write docs only.');

  // Delete asks first, then removes the row.
  await page.getByRole('button', { name: 'Delete scratch' }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await page.locator('li.profile').filter({ hasText: 'scratch' }).waitFor({ state: 'detached' });
  const names = await t.db.admin`select name from public.agent_profiles`;
  expect(names.map((r) => r.name)).toEqual(['docs writer']);

  // The composer's picker starts on the project's default; picking it runs the task with it.
  await page.getByRole('link', { name: '← handbook' }).click();
  const picker = page.locator('form.composer').getByLabel('Profile', { exact: true });
  await expect.poll(() => picker.inputValue()).toBe(profileId);
  await picker.selectOption({ label: 'docs writer (default)' });
  await page.getByLabel('Message').fill('document the upload endpoint');
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.getByRole('heading', { name: 'document the upload endpoint' }).waitFor();
  const [withProfile] = await t.db.admin`
    select agent_type, task_mode::text, agent_profile from public.tasks where description = 'document the upload endpoint'`;
  expect(withProfile!.agent_type).toBe('codex');
  expect(withProfile!.task_mode).toBe('conversation');
  expect(withProfile!.agent_profile).toMatchObject({
    name: 'docs writer',
    model: 'gpt-5.3-codex',
    instructions: 'Write docs only.',
  });

  // "No profile" is sent as such: the project's default is not applied.
  await picker.selectOption({ label: 'No profile' });
  await page.getByLabel('Message').fill('answer a question without a profile');
  await page.getByRole('button', { name: 'Start task' }).click();
  await page.getByRole('heading', { name: 'answer a question without a profile' }).waitFor();
  const [plain] = await t.db.admin`
    select agent_type, agent_profile_id, agent_profile from public.tasks where description = 'answer a question without a profile'`;
  expect(plain!.agent_profile).toEqual({});
  expect(plain!.agent_profile_id).toBeNull();
  expect(plain!.agent_type).toBe('demo');

  // The only error the page saw is Chromium logging the refused duplicate (HTTP 409 from PostgREST).
  expect(page.errors).toEqual(['Failed to load resource: the server responded with a status of 409 (Conflict)']);
  await page.close();
}, 90_000);

it('the form refuses exactly what the table refuses', async () => {
  const [user] = await t.db
    .admin`insert into auth.users (id, email) values (gen_random_uuid(), 'checks@example.com') returning id`;
  const [project] = await t.db.admin`
    insert into public.projects (owner_id, name, repository) values (${user!.id}, 'checks', '/srv/git/checks') returning id`;
  const cases: [keyof ProfileDraft, string][] = [
    ['name', 'a'.repeat(64)],
    ['name', 'a'.repeat(65)],
    ['name', 'docs writer_v1.2-b'],
    ['name', '-docs'],
    ['name', 'docs/writer'],
    ['name', 'écrivain'],
    ['model', 'gpt-5.3-codex'],
    ['model', 'openrouter/anthropic/claude@4:thinking'],
    ['model', 'a'.repeat(128)],
    ['model', 'a'.repeat(129)],
    ['model', 'gpt 5'],
    ['model', '.hidden'],
    ['description', 'd'.repeat(500)],
    ['description', 'd'.repeat(501)],
    ['instructions', 'i'.repeat(8000)],
    ['instructions', 'i'.repeat(8001)],
    ['maxTurns', '0'],
    ['maxTurns', '1'],
    ['maxTurns', '1000'],
    ['maxTurns', '1001'],
    ['timeoutMinutes', '1440'],
    ['timeoutMinutes', '1441'],
    ['maxTokens', '999'],
    ['maxTokens', '1000'],
    ['maxTokens', '100000000'],
    ['maxTokens', '100000001'],
    ['provider', 'p'.repeat(64)],
    ['provider', 'p'.repeat(65)],
    ['location', 'l'.repeat(64)],
    ['location', 'l'.repeat(65)],
  ];
  const columns: Partial<Record<keyof ProfileDraft, string>> = {
    maxTurns: 'max_turns',
    timeoutMinutes: 'timeout_minutes',
    maxTokens: 'max_tokens',
  };
  const disagreements: string[] = [];
  for (const [field, value] of cases) {
    const draft = { ...emptyDraft('codex'), name: 'probe', [field]: value };
    const formOk = checkDraft(draft).ok;
    const column = columns[field] ?? field;
    let tableOk = true;
    try {
      const [row] = await t.db.admin`
        insert into public.agent_profiles (project_id, owner_id, name, agent_type)
        values (${project!.id}, ${user!.id}, 'probe', 'codex') returning id`;
      try {
        await t.db.admin`update public.agent_profiles set ${t.db.admin({ [column]: value })} where id = ${row!.id}`;
      } finally {
        await t.db.admin`delete from public.agent_profiles where id = ${row!.id}`;
      }
    } catch (e) {
      expect((e as { code?: string }).code).toBe('23514');
      tableOk = false;
    }
    if (formOk !== tableOk) disagreements.push(`${field}=${value.slice(0, 20)}… form ${formOk}, table ${tableOk}`);
  }
  expect(disagreements).toEqual([]);

  // Stricter on purpose: the table takes any agent-shaped id, the form only the agents SAM can start.
  expect(checkDraft({ ...emptyDraft('my-agent'), name: 'probe' })).toMatchObject({
    ok: false,
    errors: { agentType: 'Choose one of the agents offered.' },
  });
});
