/**
 * Controls on the open task: its stop (live while a graceful stop runs), a retry and a fork, each
 * ending where the user sees it (the status, or the new task opened and in the URL).
 */
import { createStore } from 'solid-js/store';
import { navigate } from '../lib/route.ts';
import * as api from '../lib/supabase/index.ts';
import { showTask } from './chat.ts';

interface ControlsState {
  /** The task the stop state below is for. */
  taskId: string | null;
  stop: api.StopState | null;
  busy: boolean;
  error: string | null;
}

const [controls, setState] = createStore<ControlsState>({ taskId: null, stop: null, busy: false, error: null });

export { controls };

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Reads the task's stop state (again after each status change the view sees). */
export async function loadStop(taskId: string): Promise<void> {
  if (controls.taskId !== taskId) setState({ taskId, stop: null, error: null });
  try {
    const stop = await api.getStopState(taskId);
    if (controls.taskId === taskId) setState('stop', stop);
  } catch (e) {
    if (controls.taskId === taskId) setState('error', message(e));
  }
}

async function act<T>(run: () => Promise<T>): Promise<T | undefined> {
  setState({ busy: true, error: null });
  try {
    return await run();
  } catch (e) {
    setState('error', message(e));
    return undefined;
  } finally {
    setState('busy', false);
  }
}

export async function stop(taskId: string, graceSeconds: number, reason?: string): Promise<void> {
  await act(async () => {
    const state = await api.stopTask(taskId, graceSeconds, reason);
    setState({ taskId, stop: state });
    await showTask(taskId);
  });
}

/** Starts the new task and opens it: the chat shows it and the URL names it. */
async function open(projectId: string, start: () => Promise<api.StartedTask>): Promise<boolean> {
  const started = await act(async () => {
    const s = await start();
    await showTask(s.taskId);
    return s;
  });
  if (!started) return false;
  navigate({ name: 'project', projectId, taskId: started.taskId });
  return true;
}

export function retry(projectId: string, taskId: string, note: string): Promise<boolean> {
  return open(projectId, () => api.retryTask(taskId, note));
}

export function fork(projectId: string, taskId: string, text: string, fromMessageId: number): Promise<boolean> {
  return open(projectId, () => api.forkTask(taskId, text, fromMessageId));
}

export function clearControlsError(): void {
  setState('error', null);
}
