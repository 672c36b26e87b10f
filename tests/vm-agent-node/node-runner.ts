/**
 * In-process vm-agents for the card tests: a NodeAgent for a prepared machine (or for any node with
 * its bootstrap token), stopped after the test, its log printed when the test fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type postgres from 'postgres';
import { onTestFailed } from 'vitest';
import { NodeAgent } from '../../vm-agent/node/node-agent.ts';
import { as } from '../helpers/control-plane.ts';
import { LOCAL_REPOSITORIES, waitFor } from './harness.ts';

export type Cleanups = (() => Promise<unknown>)[];

export async function startNodeAgent(
  cleanups: Cleanups,
  machine: { dir: string; bootstrapToken: string },
  url: string,
  agentEnv: Record<string, string> = { SAM_DEMO_AGENT_DELAY_MS: '1' },
) {
  const lines: string[] = [];
  const agent = new NodeAgent({
    machineDir: machine.dir,
    controlPlaneUrl: url,
    bootstrapToken: machine.bootstrapToken,
    agentVersion: 'sam-vm-agent/test',
    agentEnv,
    machineEnv: { PATH: process.env.PATH, HOME: process.env.HOME },
    repositoryPolicy: LOCAL_REPOSITORIES,
    dockerAvailable: async () => false,
    backoff: { initialMs: 200, maxMs: 1000 },
    outboxFlushDelayMs: 50,
    pollWaitSeconds: 2,
    log: (line) => lines.push(line),
  });
  cleanups.push(() => agent.stop());
  onTestFailed(() => console.log(`vm-agent log (${machine.dir}):\n${lines.join('\n')}`));
  await agent.start();
  return { agent, lines };
}

/** A machine for a node the control plane is provisioning (no orchestrator runs in these tests). */
export async function machineForNode(admin: postgres.Sql, cleanups: Cleanups, nodeId: string) {
  const [b] = await admin`select public.issue_bootstrap_token(${nodeId}) as token`;
  const dir = await mkdtemp(path.join(tmpdir(), 'sam-machine-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return { dir, bootstrapToken: b!.token as string };
}

/** The owner calls a user RPC (as `authenticated`, RLS and the function's checks apply). */
export async function asOwner<T>(admin: postgres.Sql, owner: string, fn: (tx: postgres.TransactionSql) => Promise<T>) {
  return as(admin, 'authenticated', { sub: owner }, fn);
}

/** Until a pending permission request of the task exists. */
export function pendingPermission(admin: postgres.Sql, taskId: string, timeoutMs = 60_000) {
  return waitFor(
    'a pending permission request',
    async () => {
      const [r] =
        await admin`select * from public.permission_requests where task_id = ${taskId} and status = 'pending'`;
      return r ?? null;
    },
    timeoutMs,
  );
}
