/**
 * A new workspace made ready for its first prompt: outbox opened, repository checked out (git's
 * credentials from the control plane), profile noted, `workspaces/ready`, an agent session granted
 * and its agent started under a supervisor; then the session is `ready` and the state kept for a
 * restart.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { CredentialQuestion } from '../git/credential-server.ts';
import type { AgentSupervisor } from './agent-supervisor.ts';
import type { WorkspaceContext } from './workspace-context.ts';
import { type AgentSessionGrant, superviseAgent } from './workspace-agent.ts';
import { checkOutRepository, profileNotice } from './workspace-checkout.ts';

export async function prepareWorkspace(ws: WorkspaceContext): Promise<void> {
  const { payload } = ws.options;
  await mkdir(path.join(ws.dir, 'agent-state'), { recursive: true });
  if (!ws.channelOpen) await ws.channel.open();
  ws.channelOpen = true;
  const checkout = await checkOutRepository({
    payload,
    repoDir: path.join(ws.dir, 'repo'),
    policy: ws.options.repositoryPolicy,
    gitToken: (q) => gitToken(ws, q),
    log: (l) => ws.log(l),
  });
  ws.credentialHelper = checkout.credentialHelper;
  ws.throwIfStopping();
  const notice = await profileNotice(payload, ws.options.dockerAvailable, (l) => ws.log(l));
  await ws.channel.ready();
  ws.log('ready');
  ws.throwIfStopping();
  const session = await ws.channel.startSession(payload.agentType);
  ws.secrets.push(session.agentToken);
  if (session.agent?.credential) ws.secrets.push(session.agent.credential.secretApiKey);
  if (notice) await ws.channel.system(`workspace-profile-${ws.id}`, 'workspace_profile', notice);
  if (checkout.baseNote) await ws.channel.system(`workspace-base-${ws.id}`, 'workspace_base', checkout.baseNote);
  // The profile's extra instructions go ahead of the task's first message.
  if (session.agent?.instructions) ws.prompts[0] = `${session.agent.instructions}\n\n${ws.prompts[0]}`;
  const agent = await supervise(ws, session).start();
  ws.secrets.push(...agent.secrets);
  ws.watch(agent);
  await ws.channel.status('ready');
  ws.phase = 'idle';
  await ws.persist();
  ws.log(`${agent.title} started (agent session ${session.agentSessionId})`);
}

/** The workspace's agent supervisor for a granted session (kept as `ws.supervisor`). */
export function supervise(ws: WorkspaceContext, session: AgentSessionGrant): AgentSupervisor {
  return (ws.supervisor = superviseAgent({
    payload: ws.options.payload,
    session,
    workspaceDir: ws.dir,
    machineDir: ws.options.machineDir,
    agentHome: ws.agentHome,
    agentEnv: ws.options.agentEnv,
    machineEnv: ws.options.machineEnv,
    secrets: () => ws.secrets,
    onRecovering: (reason) => ws.channel.status('recovering', reason).then(() => {}),
    onProgress: (line) => ws.channel.system(`agent-install-${ws.id}-${ws.installNotes++}`, 'agent_install', line),
    onRecord: (record) => ws.record(record),
    askPermission: ws.permissions.decide,
    log: (l) => ws.log(l),
  }));
}

/** What git asked the helper for: the control plane decides (the task's own repository only). */
async function gitToken(ws: WorkspaceContext, q: CredentialQuestion) {
  const protocol = q.protocol === 'http' || q.protocol === 'https' ? q.protocol : undefined;
  const answer = await ws.channel.call(
    'git token',
    (c, t, signal) => c.gitToken(t, { ...(protocol ? { protocol } : {}), host: q.host, path: q.path }, { signal }),
    60_000,
  );
  if (!ws.secrets.includes(answer.token)) ws.secrets.push(answer.token);
  return { token: answer.token, ...(answer.username ? { username: answer.username } : {}) };
}
