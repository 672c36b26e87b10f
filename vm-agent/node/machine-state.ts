/**
 * What a vm-agent keeps on its machine so that a restarted vm-agent resumes instead of starting
 * over: the node's identity (`<machineDir>/state/node.json`: node id and node token) and each
 * workspace's state (`<machineDir>/workspaces/<id>/state.json`: the create_workspace payload with
 * the workspace token in use, SAM's agent-session id, the agent's ACP session id, whether a turn
 * was running, the prompts still queued). Every file is written atomically with mode 0600 in a
 * 0700 directory; credentials of agents are never written (a resumed session asks the control
 * plane for its launch settings again).
 */
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { CreateWorkspacePayload } from '../../functions/_shared/common/contracts/vm-agent.ts';

export const NodeState = z.object({ nodeId: z.string().min(1), nodeToken: z.string().min(1) });
export type NodeState = z.infer<typeof NodeState>;

export const WorkspaceState = z.object({
  payload: CreateWorkspacePayload,
  agentSessionId: z.string().nullable(),
  acpSessionId: z.string().nullable(),
  /** A turn was running when this was written (a restart interrupted it). */
  prompting: z.boolean(),
  /** The vm-agent stopped on purpose (SIGTERM) rather than died. */
  suspended: z.boolean().default(false),
  awaitingFollowup: z.boolean().default(false),
  prompts: z.array(z.string()),
});
export type WorkspaceState = z.infer<typeof WorkspaceState>;

async function writeSecret(file: string, value: unknown): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

async function readJson<T>(file: string, schema: z.ZodType<T>): Promise<T | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return null;
  }
  const parsed = schema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : null;
}

export const nodeStateFile = (machineDir: string) => path.join(machineDir, 'state', 'node.json');
export const workspaceStateFile = (machineDir: string, workspaceId: string) =>
  path.join(machineDir, 'workspaces', workspaceId, 'state.json');

export const readNodeState = (machineDir: string) => readJson(nodeStateFile(machineDir), NodeState);
export const writeNodeState = (machineDir: string, state: NodeState) => writeSecret(nodeStateFile(machineDir), state);

export const writeWorkspaceState = (machineDir: string, state: WorkspaceState) =>
  writeSecret(workspaceStateFile(machineDir, state.payload.workspaceId), state);

export const removeWorkspaceState = (machineDir: string, workspaceId: string) =>
  rm(workspaceStateFile(machineDir, workspaceId), { force: true });

/** Every workspace this machine was running when its vm-agent stopped. */
export async function readWorkspaceStates(machineDir: string): Promise<WorkspaceState[]> {
  let ids: string[];
  try {
    ids = await readdir(path.join(machineDir, 'workspaces'));
  } catch {
    return [];
  }
  const states = await Promise.all(ids.map((id) => readJson(workspaceStateFile(machineDir, id), WorkspaceState)));
  return states.filter((s): s is WorkspaceState => s !== null);
}
