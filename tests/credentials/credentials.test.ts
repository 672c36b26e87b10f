import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialList, CredentialSummary } from '../../functions/_shared/common/contracts/credentials.ts';
import { importCredentialKey } from '../../functions/_shared/credentials/cipher.ts';
import { resolveCredential } from '../../functions/_shared/credentials/store.ts';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { userVerifier } from '../../functions/_shared/user-auth.ts';
import { createCredentialsApp } from '../../functions/credentials/app.ts';
import { as, createProject, createUser } from '../helpers/control-plane.ts';
import { useTestDatabase } from '../helpers/test-database.ts';

/**
 * The credentials function in-process (`app.request()`) over a real test database, with user
 * tokens signed by an ES256 key published in the JWKS the function is given, as Auth signs them.
 */
const db = useTestDatabase('credentials');
let sql: Sql;
let key: CryptoKey;
let signingKey: JoseKey;
let app: ReturnType<typeof createCredentialsApp>;
const KID = 'test-key';

async function tokenFor(sub: string, overrides: Record<string, unknown> = {}, signer = signingKey, kid = KID) {
  return new SignJWT({ role: 'authenticated', aud: 'authenticated', ...overrides })
    .setProtectedHeader({ alg: 'ES256', kid })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(signer);
}

async function call(method: string, path: string, token: string | null, body?: unknown) {
  const res = await app.request(`/credentials${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null, text };
}

let alice: string;
let bob: string;
let aliceProject: string;
let aliceOtherProject: string;
let aliceToken: string;
let bobToken: string;
const ANTHROPIC_KEY = `sk-ant-${randomBytes(18).toString('hex')}`;

beforeAll(async () => {
  sql = connect(db.url('postgres'));
  key = await importCredentialKey(randomBytes(32).toString('base64'));
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: KID, alg: 'ES256' }] });
  app = createCredentialsApp({
    sql,
    key,
    verifyUser: userVerifier({
      jwks,
      supabaseUrl: 'http://127.0.0.1:9',
      apiKey: 'unused',
      fetch: async () => new Response('{"msg":"invalid JWT"}', { status: 403 }),
    }),
  });
  alice = await createUser(db.admin);
  bob = await createUser(db.admin);
  aliceProject = await createProject(db.admin, alice);
  aliceOtherProject = await createProject(db.admin, alice);
  aliceToken = await tokenFor(alice);
  bobToken = await tokenFor(bob);
});

afterAll(async () => {
  await sql?.end();
});

describe('credentials function', () => {
  it('stores a model key write-only: the answer and the list show only the last four characters', async () => {
    const put = await call('PUT', '', aliceToken, {
      type: 'agent-api-key',
      provider: 'anthropic',
      secret: ANTHROPIC_KEY,
      baseUrl: 'https://gateway.example.com/anthropic',
    });
    expect(put.status).toBe(200);
    const stored = CredentialSummary.parse(put.json);
    expect(stored).toMatchObject({ type: 'agent-api-key', provider: 'anthropic', projectId: null });
    expect(stored.hint).toBe(ANTHROPIC_KEY.slice(-4));
    expect(put.text).not.toContain(ANTHROPIC_KEY);

    const list = await call('GET', '', aliceToken);
    expect(list.status).toBe(200);
    const { credentials } = CredentialList.parse(list.json);
    expect(credentials.map((c) => c.id)).toEqual([stored.id]);
    expect(list.text).not.toContain(ANTHROPIC_KEY);
  });

  it('keeps only ciphertext in the database, bound to its owner: copied into another row it does not open', async () => {
    const rows = await db.admin`select ciphertext, iv from public.credentials where owner_id = ${alice}`;
    expect(rows).toHaveLength(1);
    const raw = Buffer.from(rows[0]!.ciphertext as Uint8Array).toString('latin1');
    expect(raw).not.toContain(ANTHROPIC_KEY);
    expect(raw).not.toContain(ANTHROPIC_KEY.slice(8, 24));

    const resolved = await resolveCredential(sql, key, alice, aliceProject, 'agent-api-key', 'anthropic');
    expect(resolved).toEqual({
      secret: ANTHROPIC_KEY,
      baseUrl: 'https://gateway.example.com/anthropic',
      config: {},
    });

    // Someone with database access copies Alice's ciphertext into Bob's row: it does not decrypt.
    await call('PUT', '', bobToken, { type: 'agent-api-key', provider: 'anthropic', secret: 'sk-bob-0000000000' });
    await db.admin`update public.credentials set ciphertext = ${rows[0]!.ciphertext}, iv = ${rows[0]!.iv}
                   where owner_id = ${bob} and provider = 'anthropic'`;
    await expect(resolveCredential(sql, key, bob, null, 'agent-api-key', 'anthropic')).rejects.toMatchObject({
      status: 409,
      code: 'credential_unreadable',
    });
  });

  it('replaces a credential in place, and a project override wins for that project only', async () => {
    const replaced = await call('PUT', '', aliceToken, {
      type: 'agent-api-key',
      provider: 'anthropic',
      secret: `${ANTHROPIC_KEY}-v2`,
    });
    expect(replaced.status).toBe(200);
    const override = await call('PUT', '', aliceToken, {
      type: 'agent-api-key',
      provider: 'anthropic',
      projectId: aliceProject,
      secret: 'sk-ant-project-override-9876',
    });
    expect(override.status).toBe(200);
    expect(override.json.hint).toBe('9876');

    const [row] = await db.admin`select count(*)::int as count from public.credentials where owner_id = ${alice}`;
    expect(row!.count).toBe(2);
    expect((await resolveCredential(sql, key, alice, aliceProject, 'agent-api-key', 'anthropic'))?.secret).toBe(
      'sk-ant-project-override-9876',
    );
    expect((await resolveCredential(sql, key, alice, aliceOtherProject, 'agent-api-key', 'anthropic'))?.secret).toBe(
      `${ANTHROPIC_KEY}-v2`,
    );
    expect(await resolveCredential(sql, key, alice, aliceProject, 'agent-api-key', 'openai')).toBeNull();
  });

  it("never lets another user read, use, overwrite or delete someone's credentials", async () => {
    const aliceIds = (await db.admin`select id from public.credentials where owner_id = ${alice}`).map((r) => r.id);

    const bobList = await call('GET', '', bobToken);
    expect(bobList.status).toBe(200);
    expect(bobList.json.credentials.map((c: { id: string }) => c.id)).not.toContain(aliceIds[0]);

    const onAliceProject = await call('PUT', '', bobToken, {
      type: 'agent-api-key',
      provider: 'anthropic',
      projectId: aliceProject,
      secret: 'sk-mallory-1111',
    });
    expect(onAliceProject.status).toBe(403);
    expect(onAliceProject.json.error.code).toBe('not_allowed');

    for (const id of aliceIds) {
      const del = await call('DELETE', `/${id}`, bobToken);
      expect(del.status).toBe(404);
    }
    const [row] = await db.admin`select count(*)::int as count from public.credentials where owner_id = ${alice}`;
    expect(row!.count).toBe(2);
    expect((await resolveCredential(sql, key, alice, aliceProject, 'agent-api-key', 'anthropic'))?.secret).toBe(
      'sk-ant-project-override-9876',
    );
  });

  it('refuses REST and RPC access to secrets for users and anon: no ciphertext, no store, no resolve', async () => {
    // Bob sees none of Alice's rows, and nobody but the function reads ciphertext.
    const seen = await as(
      db.admin,
      'authenticated',
      { sub: bob },
      (tx) => tx`select id, owner_id from public.credentials`,
    );
    expect(seen.every((r) => r.owner_id === bob)).toBe(true);
    await expect(
      as(db.admin, 'authenticated', { sub: alice }, (tx) => tx`select ciphertext from public.credentials`),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      as(db.admin, 'authenticated', { sub: bob }, (tx) => tx`update public.credentials set owner_id = ${bob}`),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      as(
        db.admin,
        'authenticated',
        { sub: bob },
        (tx) =>
          tx`select public.store_credential(${bob}, null, 'agent-api-key', 'openai', '\\x00112233445566778899aabbccddeeff00'::bytea, '\\x000000000000000000000000'::bytea, 1, '', null, '{}')`,
      ),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(
      as(
        db.admin,
        'authenticated',
        { sub: bob },
        (tx) => tx`select * from public.resolve_credential(${alice}, null, 'agent-api-key', 'anthropic')`,
      ),
    ).rejects.toMatchObject({ code: '42501' });
    await expect(as(db.admin, 'anon', {}, (tx) => tx`select id from public.credentials`)).rejects.toMatchObject({
      code: '42501',
    });
  });

  it('lets the owner delete a credential', async () => {
    // (Cloud tokens are checked with the cloud first: tests/credentials/cloud-credentials.test.ts.)
    const { json } = await call('PUT', '', aliceToken, {
      type: 'agent-api-key',
      provider: 'gemini',
      secret: 'gemini-key-abcdefgh',
    });
    expect((await call('DELETE', `/${json.id}`, aliceToken)).status).toBe(204);
    expect((await call('DELETE', `/${json.id}`, aliceToken)).status).toBe(404);
    expect(await resolveCredential(sql, key, alice, null, 'agent-api-key', 'gemini')).toBeNull();
  });

  it('refuses a missing, forged, foreign or non-user token with 401 in JSON', async () => {
    const other = await generateKeyPair('ES256');
    const cases: (string | null)[] = [
      null,
      'not-a-jwt',
      await tokenFor(alice, {}, other.privateKey),
      await tokenFor(alice, { role: 'anon' }),
      await tokenFor('not-a-uuid'),
      // An HS256 token goes to Auth, which refuses it.
      await new SignJWT({ role: 'authenticated' })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(alice)
        .setExpirationTime('1h')
        .sign(randomBytes(32)),
    ];
    for (const token of cases) {
      const res = await call('GET', '', token);
      expect(res.status, String(token)).toBe(401);
      expect(res.json.error.code).toBe('invalid_token');
    }
  });

  it('answers bad input with 400 and the issue, and an oversized body with 413', async () => {
    const bad = [
      { type: 'agent-api-key', provider: 'openrouter', secret: 'x'.repeat(20) },
      { type: 'agent-api-key', provider: 'openai', secret: ' sk-with-space ' },
      { type: 'agent-api-key', provider: 'openai', secret: 'sk-1234', baseUrl: 'ftp://example.com' },
      { type: 'cloud-provider', provider: 'hetzner', secret: 'x', extra: true },
      { type: 'git-deploy', provider: 'not a host', secret: 'deploy-token' },
      { type: 'agent-api-key', provider: 'openai', secret: 'sk-1234', projectId: 'nope' },
    ];
    for (const body of bad) {
      const res = await call('PUT', '', aliceToken, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.json.error.code).toBe('invalid_params');
    }
    expect((await call('PUT', '', aliceToken, '{not json')).status).toBe(400);
    expect((await call('PUT', '', aliceToken, { pad: 'x'.repeat(20_000) })).status).toBe(413);
    expect(
      (
        await call('PUT', '', aliceToken, {
          type: 'agent-api-key',
          provider: 'openai',
          projectId: randomUUID(),
          secret: 'sk-1234',
        })
      ).status,
    ).toBe(403);
  });

  it('answers a browser preflight', async () => {
    const res = await app.request('/credentials', {
      method: 'OPTIONS',
      headers: { origin: 'http://127.0.0.1:5173', 'access-control-request-method': 'PUT' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-methods')).toContain('PUT');
    expect(res.headers.get('access-control-allow-headers')).toContain('authorization');
  });
});
