import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { agentToken, bringUp, createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';
import { inProcessMcp, structured, type McpTarget } from './mcp-harness.ts';

/** An agent dispatches a sub-task with one of its project's agent profiles, by name. */
const db = useTestDatabase('mcp_profiles');
let mcp: McpTarget;
let client: Client;

beforeAll(async () => {
  mcp = inProcessMcp(db);
  const owner = await createUser(db.admin);
  const project = await createProject(db.admin, owner);
  await db.admin`insert into public.agent_profiles (project_id, owner_id, name, agent_type, model, task_mode)
                 values (${project}, ${owner}, 'docs writer', 'gemini', 'gemini-2.5-pro', 'conversation')`;
  const agent = await bringUp(db.admin, (await submitTask(db.admin, owner, project, 'Parent task')).taskId);
  client = await mcp.client(await agentToken(mcp.secret, agent));
});
afterAll(async () => {
  await client?.close();
  await mcp?.close();
});

it('dispatches with a profile: the child runs its agent, model and mode, and records it', async () => {
  const result = structured<{ taskId: string; taskMode: string }>(
    await client.callTool({
      name: 'dispatch_task',
      arguments: { description: 'Write the API docs', profile: 'docs writer' },
    }),
  );
  expect(result.taskMode).toBe('conversation');
  const [child] = await db.admin`select agent_type, agent_profile from public.tasks where id = ${result.taskId}`;
  expect(child).toMatchObject({
    agent_type: 'gemini',
    agent_profile: { name: 'docs writer', model: 'gemini-2.5-pro', taskMode: 'conversation' },
  });
});

it('refuses an unknown profile with a JSON-RPC invalid-params error that names it', async () => {
  const error = await client
    .callTool({ name: 'dispatch_task', arguments: { description: 'Something', profile: 'nope' } })
    .then(
      () => null,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(McpError);
  expect((error as McpError).code).toBe(-32602);
  expect((error as McpError).message).toContain('no agent profile "nope" in this project');
});
