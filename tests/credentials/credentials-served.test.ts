import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCredentialKey } from '../../functions/_shared/credentials/cipher.ts';
import { resolveCredential } from '../../functions/_shared/credentials/store.ts';
import { connect, type Sql } from '../../functions/_shared/db.ts';
import { useFunctionsStack } from '../helpers/local-stack.ts';
import { UserClient } from '../helpers/user-client.ts';

/**
 * The credentials function as a user reaches it: served by Deno behind the gateway's `verify_jwt`,
 * called with supabase-js `functions.invoke` and the session of a user who signed up through Auth.
 */
const stack = useFunctionsStack('credentials_served', { allServices: true });
let sql: Sql;
const users: UserClient[] = [];

beforeAll(async () => {
  sql = connect(stack.db.url('postgres'));
});
afterAll(async () => {
  await Promise.all(users.map((u) => u.close()));
  await sql?.end();
});

describe('credentials function under Deno', () => {
  it('stores a key from supabase-js and hands it back only to the resolver with the function key', async () => {
    const user = await UserClient.signUp(stack.url, stack.publishableKey);
    users.push(user);
    const secret = `sk-${randomBytes(16).toString('hex')}`;
    const { data, error } = await user.client.functions.invoke('credentials', {
      method: 'PUT',
      body: { type: 'agent-api-key', provider: 'openai', secret, baseUrl: 'https://llm.example.com/v1' },
    });
    expect(error).toBeNull();
    expect(data).toMatchObject({ provider: 'openai', hint: secret.slice(-4), baseUrl: 'https://llm.example.com/v1' });
    expect(JSON.stringify(data)).not.toContain(secret);

    const list = await user.client.functions.invoke('credentials', { method: 'GET' });
    expect(list.data.credentials).toHaveLength(1);

    const key = await importCredentialKey(process.env.SAM_CREDENTIAL_KEY!);
    const resolved = await resolveCredential(sql, key, user.userId, null, 'agent-api-key', 'openai');
    expect(resolved?.secret).toBe(secret);
  });

  it('is refused by the platform without a user session', async () => {
    const res = await fetch(`${stack.url}/functions/v1/credentials`, { headers: { apikey: stack.publishableKey } });
    expect(res.status).toBe(401);
    await res.body?.cancel();
  });
});
