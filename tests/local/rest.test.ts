import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { rolePassword } from '../../supabase/local/postgres/cluster.ts';
import { auth } from '../../supabase/local/auth/index.ts';
import { rest } from '../../supabase/local/rest/index.ts';
import { startTestStack, useTestStack } from '../helpers/local-stack.ts';
import { waitFor } from '../helpers/wait.ts';

const stack = useTestStack({ factories: [auth, rest] }, 'rest');

function client(key: string) {
  return createClient(stack.url, key, {
    auth: { persistSession: false, autoRefreshToken: false },
    // Node 20 has no global WebSocket; supabase-js builds its Realtime client eagerly.
    realtime: { transport: WebSocket as never },
  });
}

async function signedInUser(label: string) {
  const email = `${label}-${process.pid}@example.test`;
  const password = 'correct horse battery';
  const { data, error } = await client(stack.secretKey).auth.admin.createUser({
    email,
    password,
    email_confirm: true,
  });
  expect(error).toBeNull();
  const c = client(stack.publishableKey);
  expect((await c.auth.signInWithPassword({ email, password })).error).toBeNull();
  return { id: data.user!.id, client: c };
}

/** Waits until PostgREST's schema cache (reloaded by the DDL event trigger) serves `table`. */
async function untilServed(c: SupabaseClient, table: string) {
  await waitFor(`PostgREST to serve ${table}`, async () => !(await c.from(table).select('*', { head: true })).error);
}

describe('REST (PostgREST behind /rest/v1)', () => {
  let alice: Awaited<ReturnType<typeof signedInUser>>;
  let bob: Awaited<ReturnType<typeof signedInUser>>;

  beforeAll(async () => {
    await stack.db.admin.unsafe(`
      create table public.notes (
        id bigint generated always as identity primary key,
        owner uuid not null default auth.uid() references auth.users (id) on delete cascade,
        body text not null
      );
      alter table public.notes enable row level security;
      create policy notes_own_select on public.notes for select to authenticated using (owner = auth.uid());
      create policy notes_own_insert on public.notes for insert to authenticated with check (owner = auth.uid());
      grant select on public.notes to anon;
      grant select, insert on public.notes to authenticated;
      grant all on public.notes to service_role;

      create function public.add_note(body text) returns public.notes
      language sql security invoker
      as $$ insert into public.notes (body) values (body) returning * $$;
      create function public.my_note_count() returns int
      language sql stable security invoker
      as $$ select count(*)::int from public.notes $$;
      revoke execute on function public.add_note(text), public.my_note_count() from public;
      grant execute on function public.add_note(text), public.my_note_count() to authenticated, service_role;
    `);
    alice = await signedInUser('alice');
    bob = await signedInUser('bob');
    await untilServed(client(stack.secretKey), 'notes');
  });

  it('lets each signed-in user write and read only their own rows through RLS', async () => {
    const inserted = await alice.client
      .from('notes')
      .insert([{ body: 'alice 1' }, { body: 'alice 2' }])
      .select();
    expect(inserted.error).toBeNull();
    expect(inserted.status).toBe(201);
    expect(inserted.data!.map((r) => r.owner)).toEqual([alice.id, alice.id]);

    const viaRpc = await bob.client.rpc('add_note', { body: 'bob 1' });
    expect(viaRpc.error).toBeNull();
    expect(viaRpc.data).toMatchObject({ owner: bob.id, body: 'bob 1' });

    const a = await alice.client.from('notes').select('body, owner').order('id');
    expect(a.error).toBeNull();
    expect(a.data).toEqual([
      { body: 'alice 1', owner: alice.id },
      { body: 'alice 2', owner: alice.id },
    ]);
    const b = await bob.client.from('notes').select('body, owner');
    expect(b.data).toEqual([{ body: 'bob 1', owner: bob.id }]);

    // Writing a row for someone else is refused by the policy.
    const forged = await alice.client.from('notes').insert({ body: 'sneaky', owner: bob.id });
    expect(forged.error?.code).toBe('42501');
  });

  it('shows anon nothing and the secret key (service_role) everything, with counts in Content-Range', async () => {
    const anon = await client(stack.publishableKey).from('notes').select('*');
    expect(anon.error).toBeNull();
    expect(anon.data).toEqual([]);

    const all = await client(stack.secretKey).from('notes').select('*', { count: 'exact' });
    expect(all.error).toBeNull();
    expect(all.count).toBe(3);
    expect(all.data!.map((r) => r.body).sort()).toEqual(['alice 1', 'alice 2', 'bob 1']);

    const raw = await fetch(`${stack.url}/rest/v1/notes?select=id&order=id`, {
      headers: { apikey: stack.secretKey, prefer: 'count=exact', range: '0-1' },
    });
    expect(raw.status).toBe(206);
    expect(raw.headers.get('content-range')).toBe('0-1/3');
    expect(((await raw.json()) as unknown[]).length).toBe(2);
  });

  it('runs RPCs as the caller', async () => {
    expect((await alice.client.rpc('my_note_count')).data).toBe(2);
    expect((await bob.client.rpc('my_note_count')).data).toBe(1);
    expect((await client(stack.secretKey).rpc('my_note_count')).data).toBe(3);
    const anon = await client(stack.publishableKey).rpc('my_note_count');
    expect(anon.error?.code).toBe('42501');
  });

  it('passes profile headers through and serves only the public schema', async () => {
    const other = await client(stack.secretKey).schema('auth').from('users').select('id');
    expect(other.error?.code).toBe('PGRST106');
  });

  it('refuses a token it cannot verify', async () => {
    const r = await fetch(`${stack.url}/rest/v1/notes`, {
      headers: { apikey: stack.publishableKey, authorization: 'Bearer not.a.jwt' },
    });
    expect(r.status).toBe(401);
  });

  it('keeps the database password out of argv and the log', async () => {
    const service = stack.stack.services.find((s) => s.name === 'rest') as unknown as { pid: number };
    const cmdline = readFileSync(`/proc/${service.pid}/cmdline`, 'utf8');
    const password = rolePassword('authenticator');
    expect(cmdline).toContain('postgrest');
    expect(cmdline).not.toContain(password);
    const log = join(stack.stack.ctx.runtimeDir, 'postgrest.log');
    expect(existsSync(log)).toBe(true);
    expect(readFileSync(log, 'utf8')).not.toContain(password);
    expect(await stack.stack.health()).toEqual({ auth: true, rest: true });
  });
});

describe('the REST service', () => {
  it('stops PostgREST when the stack closes', async () => {
    const s = await startTestStack({ factories: [rest] }, 'rest_close');
    const { pid } = s.stack.services[0] as unknown as { pid: number };
    expect(() => process.kill(pid, 0)).not.toThrow();
    await s.close();
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
