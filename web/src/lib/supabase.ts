/**
 * The only module that talks to Supabase: Auth, PostgREST (under RLS), RPC and private Realtime
 * channels. Everything else goes through the functions exported here.
 */
import {
  createClient,
  type AuthError,
  type RealtimeChannel,
  type Session,
  type SupabaseClient,
} from '@supabase/supabase-js';
import {
  CredentialList,
  CredentialSummary,
  type StoreCredentialRequest,
} from '../../../functions/_shared/common/contracts/credentials.ts';
import { toChatMessages } from '../../../functions/_shared/common/contracts/messages.ts';
import { loadConfig } from './config.ts';
import type {
  AgentProfile,
  AgentProfileInput,
  ChannelStatus,
  Message,
  NewProject,
  Project,
  Task,
  TaskEvent,
} from './types.ts';
import { PROFILE_COLUMNS, profileError, toProfile, toProfileRow, type ProfileRow } from './profile-rows.ts';

let client: SupabaseClient | undefined;

export async function initSupabase(): Promise<void> {
  if (client) return;
  const config = await loadConfig();
  client = createClient(config.supabaseUrl, config.publishableKey, {
    auth: { persistSession: true, autoRefreshToken: true, detectSessionInUrl: false },
  });
}

function sb(): SupabaseClient {
  if (!client) throw new Error('Supabase is not initialised yet');
  return client;
}

// Auth -----------------------------------------------------------------------------------------

export interface AuthUser {
  id: string;
  email: string;
}

const AUTH_ERROR_WORDS: Record<string, string> = {
  invalid_credentials: 'That email and password do not match an account.',
  email_not_confirmed: 'Please confirm your email address first: check your inbox for the link.',
  user_already_exists: 'An account with this email already exists. Sign in instead.',
  email_exists: 'An account with this email already exists. Sign in instead.',
  weak_password: 'That password is too weak. Use at least 6 characters.',
  over_request_rate_limit: 'Too many attempts. Wait a minute and try again.',
  over_email_send_rate_limit: 'Too many emails sent. Wait a minute and try again.',
  validation_failed: 'Please enter a valid email address and password.',
  signup_disabled: 'Sign-ups are turned off for this installation.',
};

export function describeAuthError(error: AuthError | Error): string {
  const code = (error as AuthError).code;
  if (code && AUTH_ERROR_WORDS[code]) return AUTH_ERROR_WORDS[code];
  if (error.name === 'AuthRetryableFetchError') return 'Cannot reach the server. Check your connection and try again.';
  return error.message || 'Something went wrong. Please try again.';
}

function toUser(session: Session | null): AuthUser | null {
  return session ? { id: session.user.id, email: session.user.email ?? '' } : null;
}

export async function currentUser(): Promise<AuthUser | null> {
  const { data } = await sb().auth.getSession();
  return toUser(data.session);
}

export function onAuthChange(listener: (user: AuthUser | null) => void): () => void {
  const { data } = sb().auth.onAuthStateChange((_event, session) => listener(toUser(session)));
  return () => data.subscription.unsubscribe();
}

export type SignUpResult = { kind: 'signed-in' } | { kind: 'confirm-email' } | { kind: 'error'; message: string };

export async function signUp(email: string, password: string): Promise<SignUpResult> {
  const { data, error } = await sb().auth.signUp({ email, password });
  if (error) return { kind: 'error', message: describeAuthError(error) };
  return data.session ? { kind: 'signed-in' } : { kind: 'confirm-email' };
}

export async function signIn(email: string, password: string): Promise<string | null> {
  const { error } = await sb().auth.signInWithPassword({ email, password });
  return error ? describeAuthError(error) : null;
}

export async function signOut(): Promise<void> {
  await sb().realtime.removeAllChannels();
  await sb().auth.signOut({ scope: 'local' });
}

// Projects -------------------------------------------------------------------------------------

interface ProjectRow {
  id: string;
  name: string;
  repository: string;
  repo_provider: string;
  default_branch: string;
  default_agent_type: string;
  default_agent_profile_id: string | null;
  created_at: string;
}

const toProject = (r: ProjectRow): Project => ({
  id: r.id,
  name: r.name,
  repository: r.repository,
  repoProvider: r.repo_provider,
  defaultBranch: r.default_branch,
  defaultAgentType: r.default_agent_type,
  defaultAgentProfileId: r.default_agent_profile_id,
  createdAt: r.created_at,
});

const PROJECT_COLUMNS =
  'id, name, repository, repo_provider, default_branch, default_agent_type, default_agent_profile_id, created_at';

export async function listProjects(): Promise<Project[]> {
  const { data, error } = await sb().from('projects').select(PROJECT_COLUMNS).order('created_at', { ascending: false });
  if (error) throw new Error(error.message);
  return (data as ProjectRow[]).map(toProject);
}

/** A URL with a host is github/gitlab; anything else is a path on the machine (`local`). */
export function repoProviderOf(repository: string): 'github' | 'gitlab' | 'local' {
  if (/gitlab/i.test(repository)) return 'gitlab';
  if (/^(https?:\/\/|git@|ssh:\/\/)/.test(repository)) return 'github';
  return 'local';
}

export async function createProject(input: NewProject): Promise<Project> {
  const { data: auth } = await sb().auth.getSession();
  const owner = auth.session?.user.id;
  if (!owner) throw new Error('You are signed out. Sign in again.');
  const { data, error } = await sb()
    .from('projects')
    .insert({
      owner_id: owner,
      name: input.name,
      repository: input.repository,
      repo_provider: repoProviderOf(input.repository),
      default_branch: input.defaultBranch,
      default_agent_type: input.defaultAgentType,
    })
    .select(PROJECT_COLUMNS)
    .single();
  if (error) throw new Error(error.code === '23505' ? 'You already have a project with that name.' : error.message);
  return toProject(data as ProjectRow);
}

// Agent profiles (`agent_profiles` under RLS: the project owner's alone) -------------------------

export async function listProfiles(projectId: string): Promise<AgentProfile[]> {
  const { data, error } = await sb()
    .from('agent_profiles')
    .select(PROFILE_COLUMNS)
    .eq('project_id', projectId)
    .order('name');
  if (error) throw profileError(error);
  return (data as unknown as ProfileRow[]).map(toProfile);
}

/** Creates the profile (`id` null) or changes it; returns it as stored. */
export async function saveProfile(
  projectId: string,
  id: string | null,
  input: AgentProfileInput,
): Promise<AgentProfile> {
  const { data: auth } = await sb().auth.getSession();
  const owner = auth.session?.user.id;
  if (!owner) throw new Error('You are signed out. Sign in again.');
  const row = toProfileRow(input);
  const query = id
    ? sb().from('agent_profiles').update(row).eq('id', id).eq('project_id', projectId)
    : sb()
        .from('agent_profiles')
        .insert({ ...row, project_id: projectId, owner_id: owner });
  const { data, error } = await query.select(PROFILE_COLUMNS).maybeSingle();
  if (error) throw profileError(error, input.name);
  if (!data) throw new Error('That profile no longer exists. It may have been deleted.');
  return toProfile(data as unknown as ProfileRow);
}

export async function deleteProfile(id: string): Promise<void> {
  const { error } = await sb().from('agent_profiles').delete().eq('id', id);
  if (error) throw profileError(error);
}

/** Sets (or, with null, clears) the profile a project's tasks run with when they name none. */
export async function setDefaultProfile(projectId: string, profileId: string | null): Promise<void> {
  const { data, error } = await sb()
    .from('projects')
    .update({ default_agent_profile_id: profileId })
    .eq('id', projectId)
    .select('id')
    .maybeSingle();
  if (error) throw profileError(error);
  if (!data) throw new Error('That project no longer exists.');
}

// Tasks ----------------------------------------------------------------------------------------

interface TaskRow {
  id: string;
  project_id: string;
  title: string;
  status: Task['status'];
  execution_step: Task['executionStep'];
  chat_session_id: string | null;
  branch: string | null;
  pr_url: string | null;
  pushed: string | null;
  commit_sha: string | null;
  summary: string | null;
  error_message: string | null;
  created_at: string;
}

const TASK_COLUMNS =
  'id, project_id, title, status, execution_step, chat_session_id, branch, pr_url, summary, error_message, created_at, ' +
  'pushed:completion_evidence->gitPush->>pushed, commit_sha:completion_evidence->gitPush->>commitSha';

const toTask = (r: TaskRow): Task => ({
  id: r.id,
  projectId: r.project_id,
  title: r.title,
  status: r.status,
  executionStep: r.execution_step,
  sessionId: r.chat_session_id,
  branch: r.branch,
  prUrl: r.pr_url,
  pushed: r.pushed === 'true',
  commitSha: r.commit_sha,
  summary: r.summary,
  errorMessage: r.error_message,
  createdAt: r.created_at,
});

export async function listTasks(projectId: string): Promise<Task[]> {
  const { data, error } = await sb()
    .from('tasks')
    .select(TASK_COLUMNS)
    .eq('project_id', projectId)
    .is('parent_task_id', null)
    .order('created_at', { ascending: false })
    .limit(50);
  if (error) throw new Error(error.message);
  return (data as unknown as TaskRow[]).map(toTask);
}

export async function getTask(taskId: string): Promise<Task | null> {
  const { data, error } = await sb().from('tasks').select(TASK_COLUMNS).eq('id', taskId).maybeSingle();
  if (error) throw new Error(error.message);
  return data ? toTask(data as unknown as TaskRow) : null;
}

export interface Submitted {
  taskId: string;
  sessionId: string;
}

export interface SubmitOptions {
  agentType?: string;
  /** A profile's id; null runs with no profile (not even the project's default); absent lets the server choose. */
  profile?: string | null;
}

export async function submitTask(projectId: string, message: string, options: SubmitOptions = {}): Promise<Submitted> {
  const { data, error } = await sb().rpc('submit_task', {
    p_project: projectId,
    p_message: message,
    p_options: {
      ...(options.agentType ? { agentType: options.agentType } : {}),
      ...(options.profile !== undefined ? { profile: options.profile } : {}),
    },
  });
  if (error) throw new Error(error.message);
  const r = data as { taskId: string; sessionId: string };
  return { taskId: r.taskId, sessionId: r.sessionId };
}

// Messages -------------------------------------------------------------------------------------

/** The user's follow-up into a task's chat; a live agent gets it as its next prompt. */
export async function postMessage(sessionId: string, content: string): Promise<void> {
  const { error } = await sb().rpc('post_message', { p_session: sessionId, p_content: content });
  if (error) throw new Error(error.message);
}

/** Messages asked for per `get_session_messages` call (the server may cap a page lower). */
const PAGE = 200;

/** Messages of a session with ids greater than `afterId`, oldest first, paging until a page comes back empty. */
export async function fetchMessages(sessionId: string, afterId: number): Promise<Message[]> {
  const out: Message[] = [];
  let after = afterId;
  for (;;) {
    const { data, error } = await sb().rpc('get_session_messages', {
      p_session: sessionId,
      p_limit: PAGE,
      p_after: after,
    });
    if (error) throw new Error(error.message);
    const page = toChatMessages(data);
    if (page.length === 0) return out;
    out.push(...page);
    after = page[page.length - 1]!.id;
  }
}

// Realtime -------------------------------------------------------------------------------------

export interface TopicHandlers {
  onTask?(event: TaskEvent): void;
  onMessages?(messages: Message[]): void;
  /** `live` after every (re)join: the moment to re-read what may have been missed. */
  onStatus(status: ChannelStatus, error?: string): void;
}

/**
 * Joins the private channel `topic` (`project:<id>` or `session:<id>`); returns the leave function.
 * A channel the server closed (e.g. its token expired) is joined again after a second.
 */
export function joinTopic(topic: string, handlers: TopicHandlers): () => void {
  let left = false;
  let current: RealtimeChannel | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;

  const join = async () => {
    handlers.onStatus('connecting');
    await sb().realtime.setAuth();
    if (left) return;
    const channel = sb().channel(topic, { config: { private: true } });
    current = channel;
    channel.on('broadcast', { event: 'task' }, (m) => handlers.onTask?.(m.payload as TaskEvent));
    channel.on('broadcast', { event: 'messages' }, (m) => {
      // The same rows as get_session_messages returns, mapped alike; one that does not parse is left to the re-read.
      try {
        handlers.onMessages?.(toChatMessages((m.payload as { messages?: unknown }).messages));
      } catch (e) {
        console.warn('an unreadable message broadcast was ignored', e);
      }
    });
    channel.subscribe((status, err) => {
      if (left || current !== channel) return;
      if (status === 'SUBSCRIBED') handlers.onStatus('live');
      else if (status === 'CLOSED') {
        handlers.onStatus('reconnecting');
        current = undefined;
        void sb().removeChannel(channel);
        retry = setTimeout(() => void join(), 1000);
      } else handlers.onStatus('reconnecting', err?.message);
    });
  };
  void join();

  return () => {
    left = true;
    clearTimeout(retry);
    if (current) void sb().removeChannel(current);
    current = undefined;
  };
}

// Credentials (the `credentials` function: write-only secrets) ---------------------------------

/** The function's `{ error: { message } }`, or the transport's words. */
async function functionError(error: unknown): Promise<Error> {
  const response = (error as { context?: unknown }).context;
  if (response instanceof Response) {
    try {
      const body = (await response.json()) as { error?: { message?: string } };
      if (body.error?.message) return new Error(body.error.message);
    } catch {
      // not JSON: fall through to the transport's words
    }
  }
  return error instanceof Error ? error : new Error(String(error));
}

export async function listCredentials(): Promise<CredentialSummary[]> {
  const { data, error } = await sb().functions.invoke('credentials', { method: 'GET' });
  if (error) throw await functionError(error);
  return CredentialList.parse(data).credentials;
}

export async function storeCredential(input: StoreCredentialRequest): Promise<CredentialSummary> {
  const { data, error } = await sb().functions.invoke('credentials', { method: 'PUT', body: input });
  if (error) throw await functionError(error);
  return CredentialSummary.parse(data);
}

export async function deleteCredential(id: string): Promise<void> {
  const { error } = await sb().functions.invoke(`credentials/${id}`, { method: 'DELETE' });
  if (error) throw await functionError(error);
}
