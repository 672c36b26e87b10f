import { describe, expect, it } from 'vitest';
import { provisionedNode, useInProcessVmAgent } from './in-process.ts';

/**
 * The one unauthenticated route: registration with the one-time bootstrap token. A machine does
 * not get to say which cloud instance it is, and strangers cannot hammer the route.
 */
const target = useInProcessVmAgent('vm_agent_register', {
  registerLimits: { perSource: { max: 5, windowMs: 60_000 }, perToken: { max: 3, windowMs: 60_000 } },
});

// The gateway appends the address it saw; what a client puts first is its own claim.
let spoof = 0;
const register = (body: unknown, source: string) =>
  target.call('POST', '/nodes/register', undefined, body, { 'x-forwarded-for': `10.66.0.${++spoof % 250}, ${source}` });

describe('registration', () => {
  it('takes the instance id only from the provider: a machine-supplied providerInstanceId is ignored', async () => {
    const node = await provisionedNode(target);
    await target.db.admin`update public.nodes set provider_instance_id = 'i-from-provider' where id = ${node.nodeId}`;
    const ok = await register(
      {
        bootstrapToken: node.bootstrapToken,
        agentVersion: '1',
        ipAddress: '10.1.1.1',
        providerInstanceId: 'i-someone-elses',
      },
      '192.0.2.10',
    );
    expect(ok.status).toBe(200);
    const [n] = await target.db
      .admin`select provider_instance_id, ip_address from public.nodes where id = ${node.nodeId}`;
    expect(n).toMatchObject({ provider_instance_id: 'i-from-provider', ip_address: '10.1.1.1' });
  });

  it('refuses a body over 4 KiB with 413 before reading it', async () => {
    const r = await register({ bootstrapToken: 'x', agentVersion: '1', ipAddress: 'y'.repeat(5000) }, '192.0.2.20');
    expect(r).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
  });

  it('limits tries per source (as the gateway saw it): the sixth within a window is refused with 429 and Retry-After; other sources go on', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await register({ bootstrapToken: `guess-${i}`, agentVersion: '1' }, '198.51.100.1');
      expect(r.status).toBe(401);
    }
    const limited = await register({ bootstrapToken: 'guess-6', agentVersion: '1' }, '198.51.100.1');
    expect(limited).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    const other = await register({ bootstrapToken: 'guess-7', agentVersion: '1' }, '198.51.100.2');
    expect(other.status).toBe(401);
  });

  it('limits tries per bootstrap token, whatever the source; a real token still registers', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await register({ bootstrapToken: 'same-guess', agentVersion: '1' }, `203.0.113.${i}`)).status).toBe(401);
    }
    const limited = await register({ bootstrapToken: 'same-guess', agentVersion: '1' }, '203.0.113.50');
    expect(limited).toMatchObject({ status: 429, body: { error: { code: 'rate_limited' } } });
    const node = await provisionedNode(target);
    expect((await register({ bootstrapToken: node.bootstrapToken, agentVersion: '1' }, '203.0.113.51')).status).toBe(
      200,
    );
  });
});
