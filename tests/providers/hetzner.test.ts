// The Hetzner provider against the contract-tested fake: a machine's life, errors in words
// (permanent or retryable with the API's wait), adoption of a lost create, installation isolation.
import { afterEach, describe, expect, it } from 'vitest';
import { providerFromCredential } from '../../functions/_shared/providers/from-credential.ts';
import { hetznerProvider } from '../../functions/_shared/providers/hetzner.ts';
import { installationLabels, ProviderError, type CloudProvider } from '../../functions/_shared/providers/provider.ts';
import { HetznerFake, type HetznerFakeOptions } from '../fakes/clouds/hetzner.ts';
import { AGENT_BUNDLE, INSTALLATION, machineInput, readUntil } from './cloud-inputs.ts';

const clock = 1_800_000_000_000;
let fake: HetznerFake;

async function setup(options: HetznerFakeOptions = {}, token = 'hetzner-token'): Promise<CloudProvider> {
  fake = new HetznerFake({ now: () => clock, ...options });
  await fake.start();
  return hetznerProvider({ token, baseUrl: fake.url, agentBundle: AGENT_BUNDLE, now: () => clock });
}

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ProviderError);
  return e as ProviderError;
}

const posts = () => fake.requests.filter((r) => r.method === 'POST' && r.path === '/v1/servers').length;

afterEach(async () => {
  await fake.stop();
});

describe('Hetzner provider', () => {
  it('provisions a labelled server with cloud-init, sees it running, and destroys it', async () => {
    const provider = await setup({ readsUntilRunning: 2 });
    const input = machineInput('medium');
    const created = await provider.createMachine(input);
    const server = fake.servers.get(Number(created.providerInstanceId))!;
    expect(server).toMatchObject({
      name: input.name,
      labels: input.labels,
      server_type: { name: 'cx33' },
      location: { name: 'fsn1' },
    });
    expect(server.userData).toMatch(/^#cloud-config\n/);
    expect(server.userData).toContain(input.userData.bootstrapToken);
    expect(created.ipAddress).toBe(server.public_net.ipv4!.ip);

    const running = await readUntil(
      () => provider.getMachine(created.providerInstanceId),
      (m) => m?.status === 'running',
    );
    expect(running).toMatchObject({ status: 'running', name: input.name, labels: input.labels });
    expect(running!.createdAt).toBe(server.created);

    await provider.deleteMachine(created.providerInstanceId);
    expect(fake.deleted).toEqual([server.id]);
    const gone = await readUntil(
      () => provider.getMachine(created.providerInstanceId),
      (m) => m === null,
    );
    expect(gone).toBeNull();
    await provider.deleteMachine(created.providerInstanceId); // already gone: still fine
  });

  it('fails fast and in words when the server limit is reached (permanent, one attempt)', async () => {
    const provider = await setup({ serverLimit: 0 });
    const e = await failure(provider.createMachine(machineInput()));
    expect(e.permanent).toBe(true);
    expect(e.message).toBe('Hetzner server limit reached: server limit exceeded');
    expect(e.code).toBe('resource_limit_exceeded');
    expect(posts()).toBe(1);
  });

  it('says in words that the token was refused (permanent) and never shows the token', async () => {
    const provider = await setup({}, 'wrong-secret-token');
    const e = await failure(provider.createMachine(machineInput()));
    expect(e.permanent).toBe(true);
    expect(e.message).toBe('Hetzner refused the token (unauthorized)');
    expect(e.message).not.toContain('wrong-secret-token');
  });

  it('refuses a label Hetzner would not accept before any request (permanent)', async () => {
    const provider = await setup();
    const input = machineInput();
    const e = await failure(provider.createMachine({ ...input, labels: { ...input.labels, owner: 'not valid!' } }));
    expect(e.permanent).toBe(true);
    expect(e.message).toBe('Hetzner does not accept the value of label "owner"');
    expect(fake.requests).toEqual([]);
  });

  it('waits (retryable) while the earlier server of the node is still being deleted', async () => {
    const provider = await setup();
    const input = machineInput();
    const id = fake.seed(input.name, input.labels);
    await provider.deleteMachine(String(id));
    const e = await failure(provider.createMachine(input));
    expect(e.retryable).toBe(true);
    expect(e.message).toBe(`Hetzner is still deleting the earlier server ${input.name}`);
    expect(posts()).toBe(0);
  });

  it('treats 422 invalid_input as permanent, naming the field', async () => {
    const provider = await setup();
    // A server type that Hetzner does not offer in the location, as the API answers it.
    fake.failNext({ status: 200, json: { servers: [], meta: { pagination: { next_page: null } } } });
    fake.failNext({
      status: 422,
      json: {
        error: {
          code: 'invalid_input',
          message: 'unsupported location for server type',
          details: { fields: [{ name: 'location' }] },
        },
      },
    });
    const e = await failure(provider.createMachine(machineInput()));
    expect(e.permanent).toBe(true);
    expect(e.message).toMatch(
      /^Hetzner rejected the request to create server sam-[0-9a-f]{12}: unsupported location for server type \(fields: location\)$/,
    );
  });

  it('adopts the server of a create whose answer was lost instead of creating a second', async () => {
    const provider = await setup();
    const input = machineInput();
    fake.dropCreateAnswers();
    const lost = await failure(provider.createMachine(input));
    expect(lost.retryable).toBe(true);
    expect(fake.servers.size).toBe(1);

    const retried = await provider.createMachine(input);
    expect(fake.servers.size).toBe(1);
    expect(posts()).toBe(1);
    expect(retried.providerInstanceId).toBe(String([...fake.servers.keys()][0]));
  });

  it('adopts on a uniqueness_error when the server appeared after the lookup', async () => {
    const provider = await setup();
    const input = machineInput();
    const id = fake.seed(input.name, input.labels);
    fake.failNext({ status: 200, json: { servers: [], meta: { pagination: { next_page: null } } } });
    const created = await provider.createMachine(input);
    expect(created.providerInstanceId).toBe(String(id));
    expect(fake.servers.size).toBe(1);
  });

  it("refuses a name taken by a server that is not this node's (permanent)", async () => {
    const provider = await setup();
    const input = machineInput();
    fake.seed(input.name, installationLabels('inst-b'));
    const e = await failure(provider.createMachine(input));
    expect(e.permanent).toBe(true);
    expect(e.message).toBe(`Hetzner already has a server named ${input.name} that is not this node's`);
    expect(fake.servers.size).toBe(1);
  });

  it("lists by our installation label through every page and never returns another installation's servers", async () => {
    const provider = await setup();
    const ours = new Set<string>();
    for (let i = 0; i < 55; i++)
      ours.add(
        String(fake.seed(`sam-a${i}`, { sam: 'node', 'sam-installation': INSTALLATION, 'sam-node-id': `n${i}` })),
      );
    for (let i = 0; i < 5; i++)
      fake.seed(`sam-b${i}`, { sam: 'node', 'sam-installation': 'inst-b', 'sam-node-id': `n${i}` });
    fake.seed('sam-legacy', {});
    const listed = await provider.listMachines(installationLabels(INSTALLATION));
    expect(new Set(listed.map((m) => m.providerInstanceId))).toEqual(ours);
    expect(listed.every((m) => m.labels['sam-installation'] === INSTALLATION)).toBe(true);
    expect(fake.requests.filter((r) => r.method === 'GET').length).toBe(2);
  });

  it('makes 429 retryable with the wait RateLimit-Reset gives', async () => {
    const provider = await setup({ rateLimit: 1 });
    await provider.listMachines(installationLabels(INSTALLATION));
    const e = await failure(provider.listMachines(installationLabels(INSTALLATION)));
    expect(e.retryable).toBe(true);
    expect(e.code).toBe('rate_limit_exceeded');
    expect(e.message).toBe('Hetzner rate limit reached while trying to list servers');
    // The bucket of 1 is empty: full again one second after now.
    expect(e.retryAfterMs).toBe(Math.ceil(clock / 1000) * 1000 + 1000 - clock);
  });

  it('waits at most a minute when the reset is far away, and honours Retry-After on a 5xx', async () => {
    const provider = await setup();
    fake.failNext({
      status: 429,
      headers: { 'ratelimit-reset': String(Math.ceil(clock / 1000) + 3600) },
      json: { error: { code: 'rate_limit_exceeded', message: 'limit reached' } },
    });
    expect((await failure(provider.getMachine('1234'))).retryAfterMs).toBe(60_000);
    fake.failNext({
      status: 503,
      headers: { 'retry-after': '7' },
      json: { error: { code: 'unavailable', message: 'x' } },
    });
    expect((await failure(provider.getMachine('1234'))).retryAfterMs).toBe(7_000);
    fake.failNext({ status: 502, json: { error: { code: 'bad_gateway', message: 'x' } } });
    expect((await failure(provider.getMachine('1234'))).retryAfterMs).toBeUndefined();
  });

  it('makes 5xx retryable with the API words', async () => {
    const provider = await setup();
    fake.failNext({ status: 503, json: { error: { code: 'unavailable', message: 'service unavailable' } } });
    const e = await failure(provider.getMachine('1234'));
    expect(e.retryable).toBe(true);
    expect(e.message).toBe('Hetzner could not read server 1234 right now (unavailable: service unavailable)');
  });

  it('is built from a credential with project overrides of location and sizes', async () => {
    await setup();
    const provider = providerFromCredential(
      'hetzner',
      'hetzner-token',
      { location: 'nbg1', sizes: { small: 'cpx22' } },
      { baseUrls: { hetzner: fake.url }, agentBundle: AGENT_BUNDLE },
    );
    await provider.verifyCredential();
    const created = await provider.createMachine(machineInput('small'));
    expect(fake.servers.get(Number(created.providerInstanceId))).toMatchObject({
      server_type: { name: 'cpx22' },
      location: { name: 'nbg1' },
    });
    expect(() => providerFromCredential('hetzner', 'x', { sizes: { huge: 'cx99' } })).toThrow(/Unknown size "huge"/);
  });
});
