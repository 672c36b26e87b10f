import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCredentialKey } from '../../functions/_shared/credentials/cipher.ts';
import { resolveCredential } from '../../functions/_shared/credentials/store.ts';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { userVerifier } from '../../functions/_shared/user-auth.ts';
import { createCredentialsApp } from '../../functions/credentials/app.ts';
import { HetznerFake } from '../fakes/clouds/hetzner.ts';
import { ScalewayFake } from '../fakes/clouds/scaleway.ts';
import { createUser } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';

/**
 * A cloud token is checked with the cloud before it is stored (the fakes of Hetzner and Scaleway
 * stand in for the APIs): a refused one is 422 in words and nothing is stored; an accepted one is
 * stored write-only (never answered back).
 */
const db = useTestDatabase('cloud_credentials');
const hetzner = new HetznerFake({ tokens: ['good-hetzner-token-1234'] });
const scaleway = new ScalewayFake({ secretKeys: ['11111111-2222-3333-4444-555555555555'] });
const PROJECT = randomUUID();
let sql: Sql;
let key: CryptoKey;
let app: ReturnType<typeof createCredentialsApp>;
let user: string;
let token: string;

beforeAll(async () => {
  await Promise.all([hetzner.start(), scaleway.start()]);
  sql = connect(db.url('postgres'));
  key = await importCredentialKey(randomBytes(32).toString('base64'));
  const pair = await generateKeyPair('ES256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k', alg: 'ES256' }] });
  app = createCredentialsApp({
    sql,
    key,
    verifyUser: userVerifier({ jwks, supabaseUrl: 'http://127.0.0.1:9', apiKey: 'unused' }),
    clouds: { baseUrls: { hetzner: hetzner.url, scaleway: scaleway.url } },
  });
  user = await createUser(db.admin);
  token = await new SignJWT({ role: 'authenticated', aud: 'authenticated' })
    .setProtectedHeader({ alg: 'ES256', kid: 'k' })
    .setSubject(user)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(pair.privateKey);
});

afterAll(async () => {
  await sql?.end();
  await Promise.all([hetzner.stop(), scaleway.stop()]);
});

async function put(body: unknown) {
  const res = await app.request('/credentials', {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), text };
}

const stored = (provider: string) => resolveCredential(sql, key, user, null, 'cloud-provider', provider);

describe('cloud credentials are checked with the cloud on save', () => {
  it('refuses a Hetzner token the API refuses: 422 in words, nothing stored, the token never echoed', async () => {
    const before = hetzner.requests.length;
    const r = await put({ type: 'cloud-provider', provider: 'hetzner', secret: 'wrong-hetzner-token-9876' });
    expect(r.status).toBe(422);
    expect(r.json).toEqual({
      error: { code: 'invalid_credential', message: 'Hetzner refused the token (unauthorized)' },
    });
    expect(r.text).not.toContain('wrong-hetzner-token-9876');
    // One cheap read, never a write (and not /datacenters, which answers 410 now).
    expect(hetzner.requests.slice(before)).toEqual([{ method: 'GET', path: '/v1/servers', query: '?per_page=1' }]);
    expect(await stored('hetzner')).toBeNull();
  });

  it('stores a Hetzner token the API accepts, and never answers it back', async () => {
    const r = await put({ type: 'cloud-provider', provider: 'hetzner', secret: 'good-hetzner-token-1234' });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ type: 'cloud-provider', provider: 'hetzner', hint: '1234' });
    expect(r.text).not.toContain('good-hetzner-token');
    const list = await app.request('/credentials', { headers: { authorization: `Bearer ${token}` } });
    expect(await list.text()).not.toContain('good-hetzner-token');
    expect((await stored('hetzner'))?.secret).toBe('good-hetzner-token-1234');
  });

  it('refuses a Hetzner location that is not a name before calling the API', async () => {
    const before = hetzner.requests.length;
    const r = await put({
      type: 'cloud-provider',
      provider: 'hetzner',
      secret: 'good-hetzner-token-1234',
      config: { location: 'fsn1; rm -rf /' },
    });
    expect(r.status).toBe(422);
    expect(r.json.error.message).toBe('The Hetzner location or image is not a valid name');
    expect(hetzner.requests.length).toBe(before);
  });

  it('checks a Scaleway secret key with its project id and zone; refuses a missing project id in words', async () => {
    const noProject = await put({
      type: 'cloud-provider',
      provider: 'scaleway',
      secret: '11111111-2222-3333-4444-555555555555',
      config: { zone: 'nl-ams-1' },
    });
    expect(noProject.status).toBe(422);
    expect(noProject.json.error.message).toBe('The Scaleway credential names no project id');

    const wrong = await put({
      type: 'cloud-provider',
      provider: 'scaleway',
      secret: '99999999-2222-3333-4444-555555555555',
      config: { projectId: PROJECT, zone: 'nl-ams-1' },
    });
    expect(wrong.status).toBe(422);
    expect(wrong.json.error).toEqual({ code: 'invalid_credential', message: 'Scaleway refused the secret key' });
    expect(await stored('scaleway')).toBeNull();

    const before = scaleway.requests.length;
    const ok = await put({
      type: 'cloud-provider',
      provider: 'scaleway',
      secret: '11111111-2222-3333-4444-555555555555',
      config: { projectId: PROJECT, zone: 'nl-ams-1' },
    });
    expect(ok.status).toBe(200);
    expect(scaleway.requests.slice(before)).toEqual([
      { method: 'GET', path: '/instance/v1/zones/nl-ams-1/servers', query: `?project=${PROJECT}&per_page=1` },
    ]);
    expect(await stored('scaleway')).toMatchObject({ config: { projectId: PROJECT, zone: 'nl-ams-1' } });
  });

  it('says the cloud could not answer (503) when it is down, and stores nothing', async () => {
    hetzner.failNext({ status: 503, json: { error: { code: 'unavailable', message: 'maintenance' } } });
    const r = await put({ type: 'cloud-provider', provider: 'hetzner', secret: 'good-hetzner-token-1234' });
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('provider_unavailable');
    expect(r.json.error.message).toMatch(/^The credential could not be checked now: Hetzner could not list servers/);
  });
});
