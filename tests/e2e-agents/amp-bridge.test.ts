/**
 * The Amp bridge, without Amp: the stdio `mcpServers` entry the vm-agent gives Amp
 * (vm-agent/agents/amp.ts) is spawned exactly as Amp would spawn it — command, args and env —
 * with the pinned mcp-remote installed through the vm-agent's installer, and the official MCP
 * client speaks MCP over its stdio to SAM's real MCP function (Deno, local stack). A tool call
 * lands on the task; the agent token is in no process's argv, mcp-remote's included.
 *
 * Amp itself needs its own model service, which cannot be reached here: Amp end to end is
 * unverified.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SAM_MCP_TOKEN_ENV, samMcpBridgeEntry } from '../../vm-agent/agents/amp.ts';
import { AGENT_CATALOG, STDIO_MCP_AGENTS } from '../../vm-agent/agents/catalog.ts';
import { MCP_REMOTE } from '../../vm-agent/agents/manifest.ts';
import { installForMachines } from '../agents/agent-cache.ts';
import { agentToken, bringUp, createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useDenoMcp } from '../mcp/mcp-harness.ts';
import { processesWithInArgv } from './support.ts';

const env = useDenoMcp('amp_bridge');
let bin: string;
let home: string;

beforeAll(async () => {
  bin = (await installForMachines(MCP_REMOTE)).bin;
  home = mkdtempSync(join(tmpdir(), 'sam-amp-home-'));
}, 600_000);

afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

it('Amp gets SAM MCP through mcp-remote over stdio: a tool call reaches the task, the token only in the environment', async () => {
  expect(AGENT_CATALOG.amp?.title).toBe('Amp');
  expect(STDIO_MCP_AGENTS.has('amp')).toBe(true);

  const owner = await createUser(env.db.admin);
  const project = await createProject(env.db.admin, owner);
  const { taskId } = await submitTask(env.db.admin, owner, project, 'Bridge the agent to SAM');
  const agent = await bringUp(env.db.admin, taskId);
  const token = await agentToken(env.mcp.secret, agent);

  const entry = samMcpBridgeEntry({ url: env.mcp.url, token, mcpRemoteBin: bin, home });
  // The entry Amp receives: the token is a variable of the server's environment, never an argument.
  expect(entry.args.join(' ')).not.toContain(token);
  expect(entry.args).toContain(`Authorization: Bearer \${${SAM_MCP_TOKEN_ENV}}`);
  expect(entry.env).toContainEqual({ name: SAM_MCP_TOKEN_ENV, value: token });

  // Spawned exactly as configured (as Amp spawns a stdio MCP server), nothing of this process's env.
  const transport = new StdioClientTransport({
    command: entry.command,
    args: entry.args,
    env: Object.fromEntries(entry.env.map((v) => [v.name, v.value])),
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'amp-stand-in', version: '1.0.0' });
  try {
    await client.connect(transport);
    const pid = transport.pid!;
    expect(pid).toBeGreaterThan(0);
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    expect(argv).toContain('mcp-remote');
    expect(argv).not.toContain(token);
    expect(readFileSync(`/proc/${pid}/environ`, 'utf8')).toContain(`${SAM_MCP_TOKEN_ENV}=${token}`);
    expect(processesWithInArgv(token)).toEqual([]);

    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['update_task_status', 'complete_task']));
    const result = await client.callTool({
      name: 'update_task_status',
      arguments: { message: 'Bridged through mcp-remote' },
    });
    expect(result.isError, JSON.stringify(result)).toBeFalsy();
    const [row] = await env.db.admin`
      select count(*)::int as n from public.messages
       where content like '%Bridged through mcp-remote%'`;
    expect(row!.n).toBeGreaterThan(0);
  } catch (e) {
    console.log(`mcp-remote stderr:\n${stderr}`);
    throw e;
  } finally {
    await client.close();
  }
  expect(stderr).not.toContain(token);
}, 120_000);
