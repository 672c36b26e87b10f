// The Scaleway provider against the contract-tested fake: create → user data → poweron → running →
// terminate; errors in words; adoption of a lost create; installation isolation by tags; 429.
import { afterEach, describe, expect, it } from 'vitest';
import { providerFromCredential } from '../../functions/_shared/providers/from-credential.ts';
import { installationLabels, ProviderError, type CloudProvider } from '../../functions/_shared/providers/provider.ts';
import { labelsToTags, scalewayProvider, tagsToLabels } from '../../functions/_shared/providers/scaleway.ts';
import { NOBLE_IMAGE_ID, ScalewayFake, type ScalewayFakeOptions } from '../fakes/clouds/scaleway.ts';
import { AGENT_BUNDLE, INSTALLATION, machineInput, readUntil } from './cloud-inputs.ts';

const PROJECT = '11111111-2222-4333-8444-555555555555';
const clock = 1_800_000_000_000;
let fake: ScalewayFake;

async function setup(options: ScalewayFakeOptions = {}, secretKey = 'scw-secret'): Promise<CloudProvider> {
  fake = new ScalewayFake({ now: () => clock, ...options });
  await fake.start();
  return scalewayProvider({
    secretKey,
    projectId: PROJECT,
    baseUrl: fake.url,
    agentBundle: AGENT_BUNDLE,
    now: () => clock,
  });
}

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ProviderError);
  return e as ProviderError;
}

const creates = () => fake.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/servers')).length;
const uuidOf = (providerInstanceId: string) => providerInstanceId.split('/')[1]!;

afterEach(async () => {
  await fake.stop();
});

describe('Scaleway provider', () => {
  it('creates with tags, sets cloud-init as text, powers on, sees it running, and terminates it', async () => {
    const provider = await setup({ readsUntilRunning: 2 });
    const input = machineInput('large');
    const created = await provider.createMachine(input);
    expect(created.providerInstanceId).toMatch(/^fr-par-1\/[0-9a-f-]{36}$/);
    const server = fake.servers.get(uuidOf(created.providerInstanceId))!;
    expect(server).toMatchObject({
      name: input.name,
      commercial_type: 'GP1-S',
      image: NOBLE_IMAGE_ID,
      project: PROJECT,
    });
    expect(server.tags.sort()).toEqual(labelsToTags(input.labels).sort());
    expect(fake.userData.get(server.id)).toMatch(/^#cloud-config\n/);
    expect(fake.userData.get(server.id)).toContain(input.userData.bootstrapToken);
    expect(server.state).toBe('starting');
    const order = fake.requests.map((r) => `${r.method} ${r.path.replace(/[0-9a-f-]{36}/, ':id')}`);
    expect(order.slice(-3)).toEqual([
      'POST /instance/v1/zones/fr-par-1/servers',
      'PATCH /instance/v1/zones/fr-par-1/servers/:id/user_data/cloud-init',
      'POST /instance/v1/zones/fr-par-1/servers/:id/action',
    ]);

    const running = await readUntil(
      () => provider.getMachine(created.providerInstanceId),
      (m) => m?.status === 'running',
    );
    expect(running).toMatchObject({ status: 'running', ipAddress: '198.51.100.7', labels: input.labels });

    const volume = server.volumes['0']!.id;
    await provider.deleteMachine(created.providerInstanceId);
    expect(fake.terminated).toEqual([server.id]);
    expect(fake.volumes.has(volume)).toBe(false);
    expect(
      await readUntil(
        () => provider.getMachine(created.providerInstanceId),
        (m) => m === null,
      ),
    ).toBeNull();
    await provider.deleteMachine(created.providerInstanceId); // already gone: still fine
  });

  it('deletes a server still stopped together with the volume DELETE leaves', async () => {
    const provider = await setup();
    const id = fake.seed('fr-par-1', PROJECT, 'sam-stopped', ['sam=node'], 'stopped');
    const volume = fake.servers.get(id)!.volumes['0']!.id;
    await provider.deleteMachine(`fr-par-1/${id}`);
    expect(fake.servers.has(id)).toBe(false);
    expect(fake.volumes.has(volume)).toBe(false);
  });

  it('removes the stopped server and its volume when the user data is refused (permanent)', async () => {
    const provider = await setup();
    fake.failNext('PATCH', '/user_data/cloud-init', {
      status: 400,
      json: { type: 'invalid_request_error', message: 'Validation Error' },
    });
    const e = await failure(provider.createMachine(machineInput()));
    expect(e.permanent).toBe(true);
    expect(e.message).toMatch(
      /^Scaleway rejected the request to set the user data of sam-[0-9a-f]{12} \(invalid_request_error: Validation Error\)$/,
    );
    expect(fake.servers.size).toBe(0);
    expect(fake.volumes.size).toBe(0);
  });

  it('leaves the server for the retry to adopt when power-on fails for now (retryable)', async () => {
    const provider = await setup();
    const input = machineInput();
    fake.failNext('POST', '/action', { status: 503, json: { type: 'unknown', message: 'try later' } });
    const e = await failure(provider.createMachine(input));
    expect(e.retryable).toBe(true);
    expect(fake.servers.size).toBe(1);
    await provider.createMachine(input);
    expect([...fake.servers.values()][0]!.state).toBe('starting');
    expect(creates()).toBe(1);
  });

  it('fails fast and in words on the quota (permanent, one create)', async () => {
    const provider = await setup({ serverLimit: 0 });
    const e = await failure(provider.createMachine(machineInput()));
    expect(e.permanent).toBe(true);
    expect(e.message).toBe('Scaleway quota reached: Quota exceeded for this resource. (instances_dev1_m)');
    expect(creates()).toBe(1);
  });

  it('says in words that the secret key was refused, never showing it', async () => {
    const provider = await setup({}, 'wrong-secret-key');
    const e = await failure(provider.createMachine(machineInput()));
    expect(e.permanent).toBe(true);
    expect(e.message).toBe('Scaleway refused the secret key');
    expect(e.message).not.toContain('wrong-secret-key');
  });

  it('adopts the server of a lost create and finishes its user data and power-on', async () => {
    const provider = await setup();
    const input = machineInput();
    fake.dropCreateAnswers();
    const lost = await failure(provider.createMachine(input));
    expect(lost.retryable).toBe(true);
    const [server] = [...fake.servers.values()];
    expect(server!.state).toBe('stopped');

    const retried = await provider.createMachine(input);
    expect(retried.providerInstanceId).toBe(`fr-par-1/${server!.id}`);
    expect(fake.servers.size).toBe(1);
    expect(creates()).toBe(1);
    expect(fake.userData.get(server!.id)).toContain(input.userData.bootstrapToken);
    expect(server!.state).toBe('starting');
  });

  it("refuses an exact name held by a server that is not this node's, and ignores names that only contain it", async () => {
    const provider = await setup();
    const input = machineInput();
    fake.seed('fr-par-1', PROJECT, `${input.name}0`, labelsToTags(input.labels)); // substring match only
    await provider.createMachine(input);
    expect(creates()).toBe(1);
    const other = machineInput();
    fake.seed('fr-par-1', PROJECT, other.name, labelsToTags(installationLabels('inst-b')));
    const e = await failure(provider.createMachine(other));
    expect(e.permanent).toBe(true);
    expect(e.message).toBe(`Scaleway already has a server named ${other.name} that is not this node's`);
  });

  it("lists by our installation tags through every page and never returns another installation's servers", async () => {
    const provider = await setup();
    const ours = new Set<string>();
    for (let i = 0; i < 105; i++) {
      ours.add(
        `fr-par-1/${fake.seed('fr-par-1', PROJECT, `sam-a${i}`, ['sam=node', `sam-installation=${INSTALLATION}`, `sam-node-id=n${i}`])}`,
      );
    }
    fake.seed('fr-par-1', PROJECT, 'sam-b', ['sam=node', 'sam-installation=inst-b']);
    // A duplicated key is ambiguous: never counted as ours.
    fake.seed('fr-par-1', PROJECT, 'sam-dup', [
      'sam=node',
      `sam-installation=${INSTALLATION}`,
      'sam-installation=inst-b',
    ]);
    fake.seed('fr-par-1', PROJECT, 'legacy', []);
    const listed = await provider.listMachines(installationLabels(INSTALLATION));
    expect(new Set(listed.map((m) => m.providerInstanceId))).toEqual(ours);
    expect(tagsToLabels(['a=1', 'a=2', 'b=x=y'])).toEqual({ b: 'x=y' });
  });

  it('makes 429 retryable with the wait X-RateLimit-Reset gives', async () => {
    const provider = await setup({ requestBudget: 1, resetSeconds: 42 });
    await provider.listMachines(installationLabels(INSTALLATION));
    const e = await failure(provider.listMachines(installationLabels(INSTALLATION)));
    expect(e.retryable).toBe(true);
    expect(e.retryAfterMs).toBe(42_000);
    expect(e.message).toBe('Scaleway rate limit reached while trying to list servers');
  });

  it('is built from a credential holding the project id and zone', async () => {
    await setup();
    const provider = providerFromCredential(
      'scaleway',
      'scw-secret',
      { projectId: PROJECT, zone: 'nl-ams-1', sizes: { small: 'DEV1-S' } },
      { baseUrls: { scaleway: fake.url }, agentBundle: AGENT_BUNDLE },
    );
    await provider.verifyCredential();
    const created = await provider.createMachine(machineInput('small'));
    expect(created.providerInstanceId).toMatch(/^nl-ams-1\//);
    expect(fake.servers.get(uuidOf(created.providerInstanceId))).toMatchObject({
      zone: 'nl-ams-1',
      commercial_type: 'DEV1-S',
    });
    expect(() => providerFromCredential('scaleway', 'scw-secret', {})).toThrow(
      'The Scaleway credential names no project id',
    );
  });
});
