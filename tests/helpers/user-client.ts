/**
 * A user of SAM as supabase-js sees it, for tests and benchmarks that start where a user starts
 * without a browser: sign up, link a local repository, submit a task, and follow its session on
 * the private `session:<id>` channel, re-reading what a reconnect may have missed, as the web
 * chat does (web/src/lib/supabase/), with the same mapping of what the database sends.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { shareWithMachines } from '../../local-machines/users.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { type ChatMessage, toChatMessages } from '../../functions/_shared/common/contracts/messages.ts';
import { sh } from '../../vm-agent/test-support/git-repos.ts';

/** A message as the chat gets it, live or re-read: one shape, one mapping (`toChatMessages`). */
export type StreamedMessage = ChatMessage;

/** Messages asked for per `get_session_messages` call (the server may cap a page lower). */
const PAGE = 200;

/** Roles only the agent writes (the user's prompt and SAM's own notes are not "streamed"). */
export const AGENT_ROLES = new Set(['assistant', 'thought', 'tool', 'plan']);

/** A git working copy on `main` with a README, like the repository a user links. */
export function makeWorkingRepo(name = 'repo'): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'sam-user-')), name);
  mkdirSync(dir);
  sh(dir, 'init', '--quiet', '--initial-branch=main');
  writeFileSync(join(dir, 'README.md'), `# ${name}\n\nA project.\n`);
  sh(dir, 'add', 'README.md');
  sh(dir, 'commit', '--quiet', '-m', 'initial commit');
  // Machines run as their own OS users when the tests run as root: they clone and push here.
  shareWithMachines(dir);
  return dir;
}

export class UserClient {
  private constructor(
    readonly client: SupabaseClient,
    readonly userId: string,
  ) {}

  /** Signs up a fresh user (the stack must have email confirmation off). */
  static async signUp(url: string, publishableKey: string): Promise<UserClient> {
    const client = createClient(url, publishableKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: WebSocket as never },
    });
    const { data, error } = await client.auth.signUp({
      email: `user-${randomUUID().slice(0, 8)}@example.com`,
      password: 'correct horse battery',
    });
    if (error || !data.session) throw new Error(`sign-up failed: ${error?.message ?? 'no session'}`);
    await client.realtime.setAuth(data.session.access_token);
    return new UserClient(client, data.session.user.id);
  }

  async createProject(repository: string, name = `p-${randomUUID().slice(0, 8)}`): Promise<string> {
    const { data, error } = await this.client
      .from('projects')
      .insert({
        owner_id: this.userId,
        name,
        repository,
        repo_provider: 'local',
        default_branch: 'main',
        default_agent_type: 'demo',
      })
      .select('id')
      .single();
    if (error) throw new Error(error.message);
    return (data as { id: string }).id;
  }

  async submit(projectId: string, message: string): Promise<{ taskId: string; sessionId: string }> {
    const { data, error } = await this.client.rpc('submit_task', {
      p_project: projectId,
      p_message: message,
      p_options: {},
    });
    if (error) throw new Error(error.message);
    return data as { taskId: string; sessionId: string };
  }

  async task(taskId: string): Promise<{ status: string; branch: string | null; execution_step: string | null }> {
    const { data, error } = await this.client
      .from('tasks')
      .select('status, branch, execution_step')
      .eq('id', taskId)
      .single();
    if (error) throw new Error(error.message);
    return data as { status: string; branch: string | null; execution_step: string | null };
  }

  /** Joins `session:<id>` and keeps every message once, by id, live or re-read after a (re)join. */
  async watch(sessionId: string): Promise<SessionWatch> {
    const watch = new SessionWatch(this.client, sessionId);
    await watch.join();
    return watch;
  }

  async close(): Promise<void> {
    await this.client.removeAllChannels();
  }
}

export class SessionWatch {
  readonly messages = new Map<number, StreamedMessage>();
  /** How many deliveries carried a message already held (live and re-read overlapping). */
  repeats = 0;
  /** performance.now() when the first agent message arrived. */
  firstAgentMessageAt: number | null = null;
  private channel: RealtimeChannel | null = null;
  private listeners = new Set<() => void>();

  constructor(
    private readonly client: SupabaseClient,
    private readonly sessionId: string,
  ) {}

  private add(rows: StreamedMessage[]): void {
    for (const m of rows) {
      if (this.messages.has(m.id)) {
        this.repeats++;
        continue;
      }
      this.messages.set(m.id, m);
      if (this.firstAgentMessageAt === null && AGENT_ROLES.has(m.role)) this.firstAgentMessageAt = performance.now();
    }
    for (const l of [...this.listeners]) l();
  }

  /** Reads every stored message after the newest one held. */
  async catchUp(): Promise<void> {
    for (;;) {
      const after = Math.max(0, ...this.messages.keys());
      const { data, error } = await this.client.rpc('get_session_messages', {
        p_session: this.sessionId,
        p_limit: PAGE,
        p_after: after,
      });
      if (error) throw new Error(error.message);
      const rows = toChatMessages(data);
      if (rows.length === 0) return;
      this.add(rows);
    }
  }

  async join(): Promise<void> {
    const channel = this.client.channel(`session:${this.sessionId}`, { config: { private: true } });
    channel.on('broadcast', { event: 'messages' }, (m) => {
      this.add(toChatMessages((m.payload as { messages?: unknown }).messages));
    });
    await new Promise<void>((resolve, reject) => {
      channel.subscribe((status, err) => {
        // A rejoin after the socket dropped (Realtime restarted): read what was broadcast meanwhile,
        // as the web chat does after every (re)join.
        if (status === 'SUBSCRIBED' && this.channel) void this.catchUp().catch(() => {});
        if (status === 'SUBSCRIBED') resolve();
        else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') reject(err ?? new Error(status));
      });
    });
    this.channel = channel;
    await this.catchUp();
  }

  /** Resolves when `pred` holds over what arrived so far (re-checked on each arrival). */
  until(pred: (w: SessionWatch) => boolean, timeoutMs: number, what = 'the expected messages'): Promise<void> {
    if (pred(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!pred(this)) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`${what} did not arrive within ${timeoutMs} ms (have ${this.messages.size})`));
      }, timeoutMs);
      this.listeners.add(check);
    });
  }

  /** Messages in id order. */
  ordered(): StreamedMessage[] {
    return [...this.messages.values()].sort((a, b) => a.id - b.id);
  }

  async leave(): Promise<void> {
    if (this.channel) await this.client.removeChannel(this.channel);
    this.channel = null;
  }
}
