/**
 * The cloud-config SAM generates really boots a machine: on a fresh filesystem (a private mount
 * namespace over empty /opt, /var/lib, /usr/local/lib, /etc/systemd/system, /home) it creates the
 * unprivileged `sam-agent` user, writes the bootstrap file (0600, one-time token), downloads the
 * vm-agent bundle from the control plane and checks its sha256, installs the systemd unit and asks
 * systemd to start it. The unit then runs as written (User=, WorkingDirectory=, ExecStart=) and is
 * restarted after a SIGKILL as Restart=always says; the vm-agent registers with the one-time token
 * against a local stack and runs a demo-agent task to a pushed branch on an https remote.
 *
 * Substituted, since this machine has no internet and no systemd (tests/helpers/cloud-boot.ts): the
 * `packages` module (apt: git, curl, ca-certificates, gnupg — checked to be installed here), the
 * install script's Node block (NodeSource apt repository → "node ≥ 20 is on PATH": this host has
 * Node 20 at /usr/bin/node, the path the unit runs) and its git block (apt-get → "git is on PATH");
 * `systemctl` records its calls and the helper starts what `enable --now` named. The machine trusts
 * the test CA of the https git remote the way a real one trusts github.com's.
 */
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import {
  AGENT_BUNDLE_PATH,
  AGENT_USER,
  BOOTSTRAP_PATH,
  generateCloudInit,
  MACHINE_DIR,
  UNIT_NAME,
} from '../../functions/_shared/cloud-init/generate.ts';
import { agentBundleFor } from '../../functions/_shared/vm-agent/bundle.ts';
import { startFlakyProxy, type FlakyProxy } from '../../vm-agent/test-support/flaky-proxy.ts';
import { startGitHttpServer, type GitHttpServer } from '../../vm-agent/test-support/git-http-server.ts';
import { makeRemote, sh } from '../../vm-agent/test-support/git-repos.ts';
import { bootFromUserData, type BootedMachine } from '../helpers/cloud-boot.ts';
import { createProject, createUser, submitTask } from '../helpers/control-plane.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { lookupUser } from '../helpers/systemd-unit.ts';
import { makeTestCertificates } from '../helpers/test-ca.ts';
import { waitFor } from '../helpers/wait.ts';
import { settled } from '../vm-agent-node/harness.ts';

const stack = useFunctionsStack('cloud-boot');
const certs = makeTestCertificates();
let remote: { root: string; bare: string };
let gitServer: GitHttpServer;
let proxy: FlakyProxy;
let machine: BootedMachine | undefined;

beforeAll(async () => {
  remote = await makeRemote();
  gitServer = await startGitHttpServer(remote.root, 'git', 'unused', { tls: certs, anonymous: true });
  // The control plane as the machine reaches it, through a forwarder the test can take down.
  proxy = await startFlakyProxy(stack.functionUrl('vm-agent'));
}, 60_000);

afterAll(async () => {
  await machine?.close();
  await Promise.allSettled([gitServer?.close(), proxy?.close()]);
  if (remote) rmSync(remote.root, { recursive: true, force: true });
}, 60_000);

const uidOf = (pid: number) => {
  try {
    return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  } catch {
    return -1;
  }
};

describe('a cloud machine booted from the generated cloud-config', () => {
  it('installs the vm-agent as a restarting service that registers once and runs a task to a pushed branch', async () => {
    const admin = stack.db.admin;
    onTestFailed(() => {
      console.log(`--- boot log\n${machine?.bootLog}\n--- journal\n${machine?.services.get(UNIT_NAME)?.output()}`);
    });
    const owner = await createUser(admin);
    const project = await createProject(admin, owner);
    await admin`update public.projects set repository = ${`${gitServer.url}/remote.git`} where id = ${project}`;
    const task = await submitTask(admin, owner, project, 'Add a greeting', { agentType: 'demo' });
    const [t] = await admin`select auto_provisioned_node_id as id from public.tasks where id = ${task.taskId}`;
    const nodeId = t!.id as string;
    // What the orchestrator does for a cloud provider: a one-time token and the bundle's identity.
    const [b] = await admin`select public.issue_bootstrap_token(${nodeId}) as token`;
    const bootstrapToken = b!.token as string;
    const bundle = await agentBundleFor(admin, `${stack.url}/functions/v1`);
    expect(bundle, 'the test setup publishes a bundle').toBeDefined();
    const userData = generateCloudInit({
      controlPlaneUrl: proxy.url,
      bootstrapToken,
      agentBundleUrl: bundle!.url,
      agentBundleSha256: bundle!.sha256,
      nodeId,
    });

    proxy.down(); // the control plane is unreachable at first boot
    machine = await bootFromUserData(userData, { trustCa: certs.ca });

    // The boot: a fresh unprivileged user, the checked bundle, the 0600 bootstrap file, the unit.
    const agentUser = lookupUser(AGENT_USER);
    expect(agentUser.uid).toBeGreaterThan(0);
    expect(machine.bootLog).toContain(`${machine.hostPath(AGENT_BUNDLE_PATH)}.part: OK`.replace(machine.root, ''));
    const installed = readFileSync(machine.hostPath(AGENT_BUNDLE_PATH));
    expect(createHash('sha256').update(installed).digest('hex')).toBe(bundle!.sha256);
    const boot = statSync(machine.hostPath(BOOTSTRAP_PATH));
    expect(boot.mode & 0o777).toBe(0o600);
    expect(boot.uid).toBe(agentUser.uid);
    const dir = statSync(machine.hostPath(MACHINE_DIR));
    expect([dir.mode & 0o777, dir.uid]).toEqual([0o700, agentUser.uid]);
    expect(machine.systemctl).toEqual([['daemon-reload'], ['enable', '--now', UNIT_NAME]]);

    // The service runs as sam-agent, tries to register, and comes back after a SIGKILL.
    const service = machine.services.get(UNIT_NAME)!;
    expect(service.unit).toMatchObject({ user: AGENT_USER, workingDirectory: MACHINE_DIR, restart: 'always' });
    // nsenter switches to the unit's user, then becomes node.
    const runsAsAgent = () =>
      waitFor('the service to run node as sam-agent', () => {
        const pid = service.pid()!;
        return (
          uidOf(pid) === agentUser.uid && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('/usr/bin/node\0')
        );
      });
    await runsAsAgent();
    await waitFor('a registration attempt while the control plane is down', () => proxy.refused > 0, 60_000);
    const first = service.pid()!;
    service.kill('SIGKILL');
    await waitFor('systemd to restart the vm-agent', () => service.starts === 2 && service.pid() !== first, 30_000);
    await runsAsAgent();

    // The control plane comes back: the restarted vm-agent registers and runs the task.
    proxy.up();
    const done = await settled(admin, task.taskId, 180_000);
    expect(done).toMatchObject({ status: 'completed', workspace_status: 'stopped', node_id: nodeId });
    expect(done.completion_evidence?.gitPush).toMatchObject({ pushed: true, branchName: task.branchName });
    expect(sh(remote.bare, 'log', '--format=%s', '-1', task.branchName)).not.toBe('');
    expect(sh(remote.bare, 'diff', '--stat', `main..${task.branchName}`)).toContain('|');

    // Registered once: the token is gone from the machine and spent on the control plane.
    const after = JSON.parse(readFileSync(machine.hostPath(BOOTSTRAP_PATH), 'utf8')) as Record<string, unknown>;
    expect(after).toMatchObject({ nodeId });
    expect(after).not.toHaveProperty('bootstrapToken');
    const [reg] = await admin`select count(*)::int as n from public.tokens where node_id = ${nodeId} and kind = 'node'`;
    expect(reg!.n).toBe(1);
    expect(service.output()).toContain(`registered as node ${nodeId}`);
    expect(service.output()).not.toContain(bootstrapToken);
  }, 300_000);
});
