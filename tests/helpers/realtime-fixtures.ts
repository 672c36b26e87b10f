import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import WebSocket from 'ws';
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import { signAccessToken, type LocalKeys } from '../../supabase/local/keys.ts';
import type { TestDatabase } from './test-database.ts';

/**
 * The docs' pattern for private broadcast from the database, as an app migration would write it
 * (run as `postgres`, not as a superuser): a chat table whose SECURITY DEFINER trigger calls
 * `realtime.send` to `room:<id>`, and policies on realtime.messages that let only members of a room
 * read (`broadcast`, `presence`) and only writing members send.
 */
export const ROOMS_SQL = `
create table public.room_members (
  room_id int not null,
  user_id uuid not null,
  can_write boolean not null default true,
  primary key (room_id, user_id)
);
grant select on public.room_members to authenticated;

create table public.chat_messages (
  id bigserial primary key,
  room_id int not null,
  body text not null
);

create function public.broadcast_chat_message() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform realtime.send(jsonb_build_object('body', new.body, 'message_id', new.id), 'message',
                        'room:' || new.room_id::text, true);
  return null;
end;
$$;
create trigger chat_messages_broadcast after insert on public.chat_messages
  for each row execute function public.broadcast_chat_message();

create policy "room members read" on realtime.messages for select to authenticated
using (
  realtime.messages.extension in ('broadcast', 'presence')
  and exists (
    select 1 from public.room_members m
    where m.user_id = (select auth.uid()) and 'room:' || m.room_id::text = (select realtime.topic())
  )
);
create policy "room writers send" on realtime.messages for insert to authenticated
with check (
  realtime.messages.extension in ('broadcast', 'presence')
  and exists (
    select 1 from public.room_members m
    where m.user_id = (select auth.uid()) and m.can_write
      and 'room:' || m.room_id::text = (select realtime.topic())
  )
);
`;

/** Applies ROOMS_SQL as the migration role; returns a connection as that role (close it after). */
export async function applyRooms(db: TestDatabase): Promise<postgres.Sql> {
  const app = postgres(db.url(), { max: 3, onnotice: () => {} });
  await app.unsafe(ROOMS_SQL);
  return app;
}

export interface TestUser {
  id: string;
  email: string;
}

/** A row in auth.users (Auth is not needed to have users). */
export async function createUser(db: TestDatabase, label: string): Promise<TestUser> {
  const id = randomUUID();
  const email = `${label}-${id.slice(0, 8)}@example.test`;
  await db.admin`
    insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
    values (${id}, 'authenticated', 'authenticated', ${email}, now(), '{"provider":"email","providers":["email"]}', '{}', now(), now())`;
  return { id, email };
}

/** An access token with the claims Supabase Auth puts in one (as supabase/local/auth/sessions.ts signs them). */
export function tokenFor(keys: LocalKeys, user: TestUser, seconds = 3600): Promise<string> {
  return signAccessToken(
    keys,
    {
      iss: keys.issuer,
      sub: user.id,
      aud: 'authenticated',
      email: user.email,
      phone: '',
      app_metadata: { provider: 'email', providers: ['email'] },
      user_metadata: {},
      role: 'authenticated',
      aal: 'aal1',
      amr: [{ method: 'password', timestamp: Math.floor(Date.now() / 1000) }],
      session_id: randomUUID(),
      is_anonymous: false,
    },
    seconds,
  );
}

/** Tracks supabase-js clients so a test file can close them all. */
export class Clients {
  private readonly all: SupabaseClient[] = [];

  constructor(
    private readonly url: () => string,
    private readonly key: () => string,
  ) {}

  make(options: { vsn?: '1.0.0' | '2.0.0' } = {}): SupabaseClient {
    const c = createClient(this.url(), this.key(), {
      auth: { persistSession: false, autoRefreshToken: false },
      // Node 20 has no global WebSocket; realtime-js takes `ws` as its transport.
      realtime: { transport: WebSocket as never, ...(options.vsn ? { vsn: options.vsn } : {}) },
    });
    this.all.push(c);
    return c;
  }

  /** A client whose realtime connection carries `token` before any channel joins. */
  async as(token: string, options: { vsn?: '1.0.0' | '2.0.0' } = {}): Promise<SupabaseClient> {
    const c = this.make(options);
    await c.realtime.setAuth(token);
    return c;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((c) => c.removeAllChannels().catch(() => {})));
  }
}

export type SubscribeOutcome = { status: string; error?: Error };

/** Subscribes and resolves with the first outcome (SUBSCRIBED, CHANNEL_ERROR, TIMED_OUT, CLOSED). */
export function subscribe(channel: RealtimeChannel, timeoutMs = 20_000): Promise<SubscribeOutcome> {
  return new Promise((resolve) => {
    let done = false;
    channel.subscribe((status, error) => {
      if (done) return;
      done = true;
      resolve({ status, ...(error ? { error } : {}) });
    }, timeoutMs);
  });
}

/** Collects what a channel receives, with a way to wait for a matching item. */
export class Inbox<T> {
  readonly items: T[] = [];
  private waiters: { match: (t: T) => boolean; resolve: (t: T) => void }[] = [];

  push = (item: T): void => {
    this.items.push(item);
    for (const w of [...this.waiters]) {
      if (w.match(item)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(item);
      }
    }
  };

  next(match: (t: T) => boolean = () => true, timeoutMs = 20_000): Promise<T> {
    const found = this.items.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nothing matching arrived within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (t) => {
          clearTimeout(timer);
          resolve(t);
        },
      });
    });
  }
}
