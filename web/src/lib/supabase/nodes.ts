// Nodes: the user's machines (read under RLS), adding one they bring, removing one.
import { byoInstallCommand } from '../../../../functions/_shared/common/byo-command.ts';
import { loadConfig } from '../config.ts';
import { sb } from './client.ts';

export interface NodeRow {
  id: string;
  name: string;
  provider: string;
  vm_size: string;
  location: string | null;
  status: string;
  last_heartbeat_at: string | null;
  warm_until: string | null;
  agent_version: string | null;
  error_message: string | null;
  created_at: string;
  /** Live workspaces on it. */
  workspaces: number;
  /** Its live workspaces and the latest ended ones, each with its task. */
  workspaceList: NodeWorkspace[];
}

export interface NodeWorkspace {
  id: string;
  status: string;
  projectId: string;
  createdAt: string;
  task: { id: string; title: string; status: string } | null;
}

const LIVE_WORKSPACE = ['creating', 'ready', 'stopping'];
/** Ended workspaces listed per node besides the live ones. */
const ENDED_SHOWN = 3;

interface WorkspaceRow {
  id: string;
  status: string;
  project_id: string;
  created_at: string;
  task: { id: string; title: string; status: string } | null;
}

function workspaceList(rows: WorkspaceRow[]): NodeWorkspace[] {
  const newest = [...rows].sort((a, b) => b.created_at.localeCompare(a.created_at));
  const live = newest.filter((w) => LIVE_WORKSPACE.includes(w.status));
  const ended = newest.filter((w) => !LIVE_WORKSPACE.includes(w.status)).slice(0, ENDED_SHOWN);
  return [...live, ...ended].map((w) => ({
    id: w.id,
    status: w.status,
    projectId: w.project_id,
    createdAt: w.created_at,
    task: w.task,
  }));
}

/** The user's nodes that are not gone, newest first. */
export async function listNodes(): Promise<NodeRow[]> {
  const { data, error } = await sb()
    .from('nodes')
    .select(
      'id, name, provider, vm_size, location, status, last_heartbeat_at, warm_until, agent_version, error_message, created_at, ' +
        'workspaces(id, status, project_id, created_at, task:tasks!workspaces_task_id_fkey(id, title, status))',
    )
    .not('status', 'in', '(destroyed)')
    .order('created_at', { ascending: false });
  if (error) throw new Error(error.message);
  return (data ?? []).map((n) => {
    const { workspaces, ...rest } = n as unknown as Omit<NodeRow, 'workspaces' | 'workspaceList'> & {
      workspaces: WorkspaceRow[];
    };
    return {
      ...rest,
      workspaces: workspaces.filter((w) => LIVE_WORKSPACE.includes(w.status)).length,
      workspaceList: workspaceList(workspaces),
    };
  });
}

export interface AddedMachine {
  nodeId: string;
  expiresAt: string;
  /** The command to paste on the machine (holds the one-time token). */
  command: string;
}

/** A `byo` node with a one-time token, and the command that enrols the machine with it. */
export async function addMachine(name: string, size: string): Promise<AddedMachine> {
  const { data, error } = await sb().rpc('add_byo_node', { p_name: name, p_size: size });
  if (error) throw new Error(error.message);
  const r = data as { nodeId: string; bootstrapToken: string; expiresAt: string; bundle: { sha256: string } };
  const config = await loadConfig();
  return {
    nodeId: r.nodeId,
    expiresAt: r.expiresAt,
    command: byoInstallCommand({
      functionsUrl: `${config.supabaseUrl.replace(/\/+$/, '')}/functions/v1`,
      bootstrapToken: r.bootstrapToken,
      sha256: r.bundle.sha256,
    }),
  };
}

/** Removes a node: a brought machine is deregistered (its vm-agent stops), a cloud one destroyed. */
export async function removeNode(id: string): Promise<void> {
  const { error } = await sb().rpc('destroy_node', { p_node: id, p_reason: 'removed by its owner' });
  if (error) throw new Error(error.message);
}
