/**
 * The open project's tasks (live from `project:<id>`) and the open task's session messages (live
 * from `session:<id>`, re-read after every (re)join so nothing is lost or doubled).
 */
import { batch } from 'solid-js';
import { createStore, produce, reconcile } from 'solid-js/store';
import { mergeMessages } from '../lib/messages.ts';
import { isTerminal } from '../lib/steps.ts';
import * as api from '../lib/supabase/index.ts';
import type { ChannelStatus, Message, Task, TaskEvent } from '../lib/types.ts';
import { applyAttention, forgetAttention, loadAttention } from './tree.ts';

interface ChatState {
  projectId: string | null;
  tasks: Task[];
  tasksLoaded: boolean;
  projectChannel: ChannelStatus;
  taskId: string | null;
  sessionId: string | null;
  messages: Message[];
  messagesLoaded: boolean;
  sessionChannel: ChannelStatus;
  /** Counts the open task's usage reports, turn ends and rejoins: the task view reads its usage again. */
  usageVersion: number;
  error: string | null;
}

const [chat, setState] = createStore<ChatState>({
  projectId: null,
  tasks: [],
  tasksLoaded: false,
  projectChannel: 'closed',
  taskId: null,
  sessionId: null,
  messages: [],
  messagesLoaded: false,
  sessionChannel: 'closed',
  usageVersion: 0,
  error: null,
});

export { chat };

let leaveProject: () => void = () => {};
let leaveSession: () => void = () => {};

/** Besides the live channel, re-read every so often while the task runs (a dropped broadcast is not lost). */
const FALLBACK_POLL_MS = Number(import.meta.env.VITE_CHAT_FALLBACK_POLL_MS ?? 10_000);

const failed = (e: unknown) => setState('error', e instanceof Error ? e.message : String(e));

function upsertTask(task: Task): void {
  setState(
    produce((s) => {
      const i = s.tasks.findIndex((t) => t.id === task.id);
      if (i >= 0) s.tasks[i] = task;
      else s.tasks.unshift(task);
    }),
  );
}

async function refreshTask(taskId: string): Promise<void> {
  const task = await api.getTask(taskId);
  if (task && task.projectId === chat.projectId) upsertTask(task);
}

function applyTaskEvent(e: TaskEvent): void {
  if (e.projectId !== chat.projectId) return;
  const i = chat.tasks.findIndex((t) => t.id === e.taskId);
  if (i < 0 || isTerminal(e.status)) {
    // Unknown task, or it ended (the PR url and summary are written after the status moves).
    void refreshTask(e.taskId).catch(failed);
  }
  if (i >= 0) {
    setState('tasks', i, (t) => ({
      ...t,
      status: e.status,
      executionStep: e.executionStep,
      branch: e.branch ?? t.branch,
      prUrl: e.prUrl ?? t.prUrl,
      prNumber: e.prNumber ?? t.prNumber,
      pushed: e.pushed ?? t.pushed,
      commitSha: e.commitSha ?? t.commitSha,
      errorMessage: e.errorMessage ?? t.errorMessage,
      title: e.title ?? t.title,
    }));
  }
}

async function reloadTasks(projectId: string): Promise<void> {
  const tasks = await api.listTasks(projectId);
  if (chat.projectId !== projectId) return;
  setState('tasks', reconcile(tasks, { key: 'id' }));
  setState('tasksLoaded', true);
}

export function openProject(projectId: string): void {
  if (chat.projectId === projectId) return;
  closeProject();
  setState({ projectId, tasks: [], tasksLoaded: false, error: null });
  void reloadTasks(projectId).catch(failed);
  leaveProject = api.joinTopic(`project:${projectId}`, {
    onTask: applyTaskEvent,
    onAttention: applyAttention,
    onStatus(status) {
      setState('projectChannel', status);
      // Task changes missed while the channel was down: read the list again.
      if (status === 'live') void reloadTasks(projectId).catch(failed);
      if (status === 'live') void loadAttention(projectId);
    },
  });
}

export function closeProject(): void {
  closeTask();
  leaveProject();
  leaveProject = () => {};
  forgetAttention();
  setState({ projectId: null, tasks: [], tasksLoaded: false, projectChannel: 'closed' });
}

function lastSeenId(): number {
  return chat.messages.length ? chat.messages[chat.messages.length - 1]!.id : 0;
}

function addMessages(sessionId: string, incoming: Message[]): void {
  if (chat.sessionId !== sessionId || incoming.length === 0) return;
  setState('messages', (current) => mergeMessages(current, incoming));
  // A turn's end is when its usage is reported: read it again, should the `usage` broadcast be lost.
  if (incoming.some((m) => m.metadata?.event === 'turn_end')) setState('usageVersion', (n) => n + 1);
}

async function catchUp(sessionId: string): Promise<void> {
  const missed = await api.fetchMessages(sessionId, lastSeenId());
  batch(() => {
    addMessages(sessionId, missed);
    if (chat.sessionId === sessionId) setState('messagesLoaded', true);
  });
}

export function openTask(taskId: string, sessionId: string): void {
  if (chat.taskId === taskId && chat.sessionId === sessionId) return;
  closeTask();
  setState({ taskId, sessionId, messages: [], messagesLoaded: false });
  void catchUp(sessionId).catch(failed);
  const poll = setInterval(() => {
    const task = taskById(taskId);
    if (chat.sessionChannel === 'live' && task && !isTerminal(task.status)) void catchUp(sessionId).catch(failed);
  }, FALLBACK_POLL_MS);
  const leave = api.joinTopic(`session:${sessionId}`, {
    onMessages: (messages) => addMessages(sessionId, messages),
    onTask: applyTaskEvent,
    onUsage(usage) {
      if (chat.sessionId === sessionId && usage.taskId === taskId) setState('usageVersion', (n) => n + 1);
    },
    onStatus(status) {
      setState('sessionChannel', status);
      // After every (re)join: read what arrived while the channel was not live.
      if (status === 'live') {
        void catchUp(sessionId).catch(failed);
        setState('usageVersion', (n) => n + 1);
      }
    },
  });
  leaveSession = () => {
    clearInterval(poll);
    leave();
  };
}

export async function reply(sessionId: string, content: string): Promise<void> {
  await api.postMessage(sessionId, content);
  await catchUp(sessionId);
}

export function closeTask(): void {
  leaveSession();
  leaveSession = () => {};
  setState({ taskId: null, sessionId: null, messages: [], messagesLoaded: false, sessionChannel: 'closed' });
}

export async function submit(projectId: string, message: string, options: api.SubmitOptions): Promise<string> {
  const submitted = await api.submitTask(projectId, message, options);
  await refreshTask(submitted.taskId);
  return submitted.taskId;
}

/** Reads one task (a new attempt or fork just started) into the open project's list. */
export async function showTask(taskId: string): Promise<void> {
  await refreshTask(taskId);
}

export function taskById(id: string): Task | undefined {
  return chat.tasks.find((t) => t.id === id);
}
