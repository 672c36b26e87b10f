/**
 * The ideas board in a real Chromium against the whole local stack (Auth, PostgREST, Realtime, the
 * functions under Deno, the orchestrator, a local machine with the demo agent): an idea created on
 * the board, moved across it (buttons, the keyboard, drag and drop), edited in its editor, opened
 * from its URL in another browser context, then executed: its task runs with the demo agent, an
 * idea the agent records over MCP appears live on both boards, and the executed idea's card links
 * to its task and ends in Done.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { signSamToken } from '../../functions/_shared/sam-tokens.ts';
import { useBrowser } from '../helpers/browser.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { makeWorkingRepo, UserClient } from '../helpers/user-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { printMachineLogs } from './support.ts';
import { serveWeb, type WebSite } from '../web/site.ts';

const stack = useFunctionsStack('capability_ideas', {
  allServices: true,
  machines: { agentEnv: { SAM_DEMO_AGENT_DELAY_MS: '10' } },
});
const browser = useBrowser();
let site: WebSite;
let page: Page & { errors: string[] };
const repo = makeWorkingRepo('ideas');
const UUID = /[0-9a-f-]{36}/;

beforeAll(async () => {
  site = await serveWeb(stack.url, stack.publishableKey);
  page = await browser.newPage();
}, 180_000); // the web build (vite) is slow on a busy machine

afterAll(async () => {
  await site?.close();
});

function explainFailure(): void {
  onTestFailed(async () => {
    printMachineLogs(stack.machines.baseDir);
    console.log(await stack.db.admin`select title, status, execution_step, error_message from public.tasks`);
  });
}

const column = (p: Page, stage: string) => p.locator(`section.idea-column[data-stage="${stage}"]`);
const cardIn = (p: Page, stage: string, id: string) => column(p, stage).locator(`li.idea-card[data-idea-id="${id}"]`);

/** An agent's MCP client with the token of the running agent session of `taskId` (as the vm-agent hands it to the agent). */
async function agentClient(taskId: string): Promise<Client> {
  const token = await waitFor(
    "the idea's agent session",
    async () => {
      const [t] = await stack.db.admin`
        select jti, agent_session_id, workspace_id, project_id, task_id, extract(epoch from expires_at)::bigint as exp
          from public.tokens where kind = 'agent' and task_id = ${taskId} and revoked_at is null`;
      return t;
    },
    120_000,
  );
  const jwt = await signSamToken(stack.secret, 'agent', {
    jti: token.jti as string,
    agent_session_id: token.agent_session_id as string,
    workspace_id: token.workspace_id as string,
    project_id: token.project_id as string,
    task_id: token.task_id as string,
    exp: Number(token.exp),
  });
  const client = new Client({ name: 'sam-test-agent', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(stack.functionUrl('mcp')), {
      requestInit: { headers: { authorization: `Bearer ${jwt}` } },
    }),
  );
  return client;
}

describe('the ideas board', () => {
  it('creates, moves, edits and executes an idea; an agent idea shows up live; the URL opens the same board', async () => {
    explainFailure();
    await page.goto(site.url);
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByLabel('Email').fill('ideas@example.com');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Projects' }).waitFor();
    await page.getByLabel('Name').fill('ideas');
    await page.getByLabel('Git repository (a local path or a URL)').fill(repo);
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('heading', { name: 'ideas' }).waitFor();

    await page.getByRole('link', { name: 'Ideas board' }).click();
    await page.getByRole('heading', { name: 'Ideas', exact: true }).waitFor();
    const projectId = UUID.exec(new URL(page.url()).hash)![0];
    expect(new URL(page.url()).hash).toBe(`#/p/${projectId}/ideas`);
    // Marks this document: still there at the end means nothing was reloaded.
    await page.evaluate(() => ((window as unknown as { boardMark: number }).boardMark = 1));

    // Create
    const form = page.getByRole('form', { name: 'New idea' });
    await form.getByLabel('Idea title').fill('Cache thumbnails');
    await form.getByLabel('Idea details').fill('Thumbnails are rendered per request.');
    await form.getByLabel('Idea priority').fill('10');
    await form.getByRole('button', { name: 'Add idea' }).click();
    await column(page, 'exploring').locator('li.idea-card', { hasText: 'Cache thumbnails' }).waitFor();
    const [row] = await stack.db.admin`
      select id, status, priority, triggered_by from public.tasks where title = 'Cache thumbnails'`;
    expect(row).toMatchObject({ status: 'draft', priority: 10, triggered_by: 'user' });
    const ideaId = row!.id as string;

    // Move: a button, the keyboard on a button, drag and drop
    await cardIn(page, 'exploring', ideaId).getByRole('button', { name: 'Move to Ready' }).click();
    await cardIn(page, 'ready', ideaId).waitFor();
    await cardIn(page, 'ready', ideaId).getByRole('button', { name: 'Move to Parked' }).focus();
    await page.keyboard.press('Enter');
    await cardIn(page, 'parked', ideaId).waitFor();
    await cardIn(page, 'parked', ideaId).dragTo(column(page, 'exploring'));
    await cardIn(page, 'exploring', ideaId).waitFor();
    const moves = await stack.db.admin`
      select reason from public.task_events where task_id = ${ideaId} order by id`;
    expect(moves.map((m) => m.reason)).toEqual(['idea created', 'idea ready', 'idea parked', 'idea exploring']);

    // Edit in the editor, which is in the URL
    await cardIn(page, 'exploring', ideaId).getByRole('link', { name: 'Cache thumbnails' }).click();
    expect(new URL(page.url()).hash).toBe(`#/p/${projectId}/ideas?idea=${ideaId}`);
    const editor = page.getByRole('dialog', { name: 'Idea' });
    await editor.getByLabel('Title').fill('Note thumbnail caching in NOTES.md');
    await editor.getByLabel('Details').fill('Rendered per request today. [stream:1500]');
    await editor.getByLabel('Priority').fill('42');
    await editor.getByRole('button', { name: 'Save idea' }).click();
    await editor.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const card = cardIn(page, 'exploring', ideaId);
    await card.getByRole('link', { name: 'Note thumbnail caching in NOTES.md' }).waitFor();
    expect(await card.getByTestId('idea-priority').textContent()).toBe('Priority 42');
    const [edited] = await stack.db.admin`select title, description, priority from public.tasks where id = ${ideaId}`;
    expect(edited).toEqual({
      title: 'Note thumbnail caching in NOTES.md',
      description: 'Rendered per request today. [stream:1500]',
      priority: 42,
    });

    // The same URL in a new browser context: after signing in, the same board with the same idea open
    const other = await browser.newPage();
    await other.goto(page.url());
    await other.getByLabel('Email').fill('ideas@example.com');
    await other.getByLabel('Password').fill('correct horse battery');
    await other.getByRole('button', { name: 'Sign in' }).click();
    const otherEditor = other.getByRole('dialog', { name: 'Idea' });
    await otherEditor.getByLabel('Title').waitFor();
    expect(await otherEditor.getByLabel('Title').inputValue()).toBe('Note thumbnail caching in NOTES.md');
    expect(await otherEditor.getByLabel('Priority').inputValue()).toBe('42');
    await cardIn(other, 'exploring', ideaId).waitFor();

    // Execute: the idea runs as its own task, on both boards
    await editor.getByRole('button', { name: 'Close' }).click();
    expect(new URL(page.url()).hash).toBe(`#/p/${projectId}/ideas`);
    await card.getByRole('button', { name: 'Execute' }).click();
    const running = cardIn(page, 'executing', ideaId);
    await running.waitFor();
    expect(await running.getByRole('link', { name: 'Open task' }).getAttribute('href')).toBe(
      `#/p/${projectId}/t/${ideaId}`,
    );
    await cardIn(other, 'executing', ideaId).waitFor();

    // While it runs, its agent records an idea over MCP: it appears on both boards without a reload
    const agent = await agentClient(ideaId);
    try {
      const created = await agent.callTool({
        name: 'create_idea',
        arguments: { title: 'Resize images on upload', content: 'Seen while caching thumbnails.', priority: 7 },
      });
      expect(created.isError).not.toBe(true);
    } finally {
      await agent.close();
    }
    const fromAgent = column(page, 'exploring').locator('li.idea-card', { hasText: 'Resize images on upload' });
    await fromAgent.waitFor();
    expect(await fromAgent.getByTestId('idea-by-agent').textContent()).toBe('From an agent');
    await column(other, 'exploring').locator('li.idea-card', { hasText: 'Resize images on upload' }).waitFor();

    // The task completes: the card is Done and links to the task's chat
    const done = cardIn(page, 'done', ideaId);
    await done.waitFor({ timeout: 180_000 });
    await expect.poll(() => done.getByTestId('idea-progress').textContent()).toBe('Completed');
    expect(await page.evaluate(() => (window as unknown as { boardMark?: number }).boardMark)).toBe(1);
    await cardIn(other, 'done', ideaId).waitFor({ timeout: 30_000 });
    await done.getByRole('link', { name: 'Open task' }).click();
    await expect.poll(() => page.getByTestId('task-status').textContent(), { timeout: 30_000 }).toBe('Completed');
    const [ran] = await stack.db.admin`
      select t.status, m.content from public.tasks t
        join public.messages m on m.session_id = t.chat_session_id and m.message_id = 'initial'
       where t.id = ${ideaId}`;
    expect(ran).toEqual({
      status: 'completed',
      content: 'Note thumbnail caching in NOTES.md\n\nRendered per request today. [stream:1500]',
    });
    expect(page.errors).toEqual([]);
    expect(other.errors).toEqual([]);
  }, 420_000);

  it('refuses another user: they see none of the board and cannot move or edit an idea on it', async () => {
    const stranger = await UserClient.signUp(stack.url, stack.publishableKey);
    try {
      const [idea] = await stack.db
        .admin`select id, project_id from public.tasks where title = 'Resize images on upload'`;
      const board = await stranger.client.rpc('list_ideas', { p_project: idea!.project_id });
      expect(board.error).toBeNull();
      expect(board.data).toEqual([]);
      const move = await stranger.client.rpc('move_idea', { p_idea: idea!.id, p_stage: 'parked' });
      expect(move.error?.message).toBe(`not allowed to act on task ${idea!.id as string}`);
      const edit = await stranger.client.rpc('update_idea', { p_idea: idea!.id, p_changes: { title: 'Mine now' } });
      expect(edit.error?.message).toBe(`not allowed in project ${idea!.project_id as string}`);
      const [still] = await stack.db.admin`select status, title from public.tasks where id = ${idea!.id}`;
      expect(still).toEqual({ status: 'draft', title: 'Resize images on upload' });
    } finally {
      await stranger.close();
    }
  }, 60_000);
});
