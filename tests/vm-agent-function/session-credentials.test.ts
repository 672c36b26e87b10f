import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  PollCommandsResponse,
  StartSessionResponse,
  type CreateWorkspacePayload,
} from '../../functions/_shared/common/contracts/vm-agent.ts';
import { importCredentialKey } from '../../functions/_shared/credentials/cipher.ts';
import { storeCredential } from '../../functions/_shared/credentials/store.ts';
import { connect } from '../../functions/_shared/db.ts';
import { createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useInProcessVmAgent, type InProcessVmAgent } from './in-process.ts';

/**
 * `POST /vm-agent/sessions` answers the agent's launch settings: the task's profile and the one
 * model credential its agent needs, the owner's (or the project's override) — decided by the
 * workspace the token names, never by anything the machine says. No credential: a 409 the chat
 * can show, and no agent session is left behind. A node token is refused.
 */
const key = await importCredentialKey(randomBytes(32).toString('base64url'));
const target: InProcessVmAgent = useInProcessVmAgent('session_credentials', { credentialKey: key });

async function store(
  owner: string,
  provider: string,
  secret: string,
  extra: { projectId?: string; baseUrl?: string } = {},
) {
  const sql = connect(target.db.url('postgres'));
  try {
    await storeCredential(sql, key, { sub: owner } as never, { type: 'agent-api-key', provider, secret, ...extra });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** A user's task with `agentType` (and profile), its node registered, its workspace ready: the workspace token. */
async function readyWorkspace(owner: string, project: string, options: Record<string, unknown>) {
  const admin = target.db.admin;
  const task = await submitTask(admin, owner, project, 'Add a greeting', options);
  const [t] = await admin`select auto_provisioned_node_id, node_id from public.tasks where id = ${task.taskId}`;
  let nodeToken: string;
  if (t!.auto_provisioned_node_id) {
    const [b] = await admin`select public.issue_bootstrap_token(${t!.auto_provisioned_node_id}) as token`;
    const r = await target.call<{ nodeToken: string }>('POST', '/nodes/register', undefined, {
      bootstrapToken: b!.token,
      agentVersion: 'test',
    });
    nodeToken = r.body.nodeToken;
  } else throw new Error('expected a new node');
  const r = await target.call('GET', '/nodes/commands', nodeToken);
  const cmd = PollCommandsResponse.parse(r.body).commands.find((c) => c.kind === 'create_workspace');
  if (!cmd) throw new Error('no create_workspace command');
  await target.call('POST', `/nodes/commands/${cmd.id}/ack`, nodeToken, { ok: true });
  const ws = cmd.payload as CreateWorkspacePayload;
  expect((await target.call('POST', '/workspaces/ready', ws.workspaceToken)).status).toBe(200);
  return { task, nodeToken, ws };
}

describe('the agent launch settings of a session start', () => {
  it("answer each workspace its own task owner's credential, the project's override first, with the profile", async () => {
    const admin = target.db.admin;
    const alice = await createUser(admin);
    const bob = await createUser(admin);
    const aliceProject = await createProject(admin, alice);
    const aliceOther = await createProject(admin, alice);
    const bobProject = await createProject(admin, bob);
    await store(alice, 'anthropic', 'sk-ant-alice-1111', { baseUrl: 'http://127.0.0.1:9/anthropic' });
    await store(alice, 'anthropic', 'sk-ant-alice-project-2222', { projectId: aliceOther });
    await store(bob, 'anthropic', 'sk-ant-bob-3333');
    await admin`insert into public.agent_profiles (project_id, owner_id, name, agent_type, model, permission_mode, instructions)
                values (${aliceProject}, ${alice}, 'careful', 'claude-code', 'claude-sonnet-4-5', 'ask', 'Be brief.')`;

    const a = await readyWorkspace(alice, aliceProject, { profile: 'careful' });
    const a2 = await readyWorkspace(alice, aliceOther, { agentType: 'claude-code' });
    const b = await readyWorkspace(bob, bobProject, { agentType: 'claude-code' });

    const ra = await target.call('POST', '/sessions', a.ws.workspaceToken, {});
    expect(ra.status, JSON.stringify(ra.body)).toBe(200);
    expect(StartSessionResponse.parse(ra.body).agent).toEqual({
      agentType: 'claude-code',
      model: 'claude-sonnet-4-5',
      permissionMode: 'ask',
      instructions: 'Be brief.',
      credential: {
        provider: 'anthropic',
        secretApiKey: 'sk-ant-alice-1111',
        baseUrl: 'http://127.0.0.1:9/anthropic',
        config: {},
      },
    });
    const ra2 = StartSessionResponse.parse((await target.call('POST', '/sessions', a2.ws.workspaceToken, {})).body);
    expect(ra2.agent?.credential).toMatchObject({ secretApiKey: 'sk-ant-alice-project-2222', baseUrl: null });
    expect(ra2.agent).toMatchObject({ model: null, permissionMode: null, instructions: null });
    // Bob's workspace gets Bob's key, whatever Alice stored; never hers.
    const rb = await target.call('POST', '/sessions', b.ws.workspaceToken, {});
    expect(StartSessionResponse.parse(rb.body).agent?.credential?.secretApiKey).toBe('sk-ant-bob-3333');
    expect(JSON.stringify(rb.body)).not.toContain('alice');

    // A node token is not a workspace token.
    const byNode = await target.call('POST', '/sessions', a.nodeToken, {});
    expect(byNode.status).toBe(401);
    expect(JSON.stringify(byNode.body)).not.toContain('sk-ant');
  });

  it('answer no credential for the demo agent, and a 409 naming the key to add when none is stored (no session left)', async () => {
    const admin = target.db.admin;
    const carol = await createUser(admin);
    const project = await createProject(admin, carol);
    const demo = await readyWorkspace(carol, project, { agentType: 'demo' });
    const rd = await target.call('POST', '/sessions', demo.ws.workspaceToken, {});
    expect(StartSessionResponse.parse(rd.body).agent).toMatchObject({ agentType: 'demo', credential: null });

    const claude = await readyWorkspace(carol, project, { agentType: 'claude-code' });
    const r = await target.call('POST', '/sessions', claude.ws.workspaceToken, {});
    expect(r.status).toBe(409);
    expect(r.body).toMatchObject({
      error: { code: 'credential_missing', message: 'Claude Code needs an Anthropic key: add one in Settings' },
    });
    const sessions = await admin`select id from public.agent_sessions where workspace_id = ${claude.ws.workspaceId}`;
    expect(sessions).toEqual([]);

    // OpenCode takes an OpenAI key when no OpenCode one is stored.
    await store(carol, 'openai', 'sk-openai-carol-4444');
    const oc = await readyWorkspace(carol, project, { agentType: 'opencode' });
    const ro = StartSessionResponse.parse((await target.call('POST', '/sessions', oc.ws.workspaceToken, {})).body);
    expect(ro.agent?.credential).toMatchObject({ provider: 'openai', secretApiKey: 'sk-openai-carol-4444' });
  });
});
