import { createEffect, onCleanup, Show } from 'solid-js';
import { waitingCard } from '../lib/cards.ts';
import { isTerminal, STATUS_LABELS, taskProgress } from '../lib/steps.ts';
import { chat, closeTask, openTask, taskById } from '../stores/chat.ts';
import { MessageList } from './MessageList.tsx';
import { ReplyForm } from './ReplyForm.tsx';
import { TaskControls } from './TaskControls.tsx';
import { TaskUsage } from './TaskUsage.tsx';

const CHANNEL_WORDS = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
} as const;

export function TaskView(props: { taskId: string }) {
  const task = () => taskById(props.taskId);

  createEffect(() => {
    const sessionId = task()?.sessionId;
    if (sessionId) openTask(props.taskId, sessionId);
  });
  onCleanup(closeTask);

  return (
    <Show when={task()} fallback={<p class="muted">{chat.tasksLoaded ? 'Task not found.' : 'Loading…'}</p>}>
      {(t) => (
        <article class="task" aria-labelledby="task-title" data-task-id={t().id}>
          <header class="task-header">
            <h2 id="task-title">{t().title}</h2>
            <p class="task-progress" role="status" aria-live="polite">
              <span class={`badge status-${t().status}`} data-testid="task-status">
                {STATUS_LABELS[t().status]}
              </span>{' '}
              <Show when={!isTerminal(t().status) && t().executionStep}>
                <span class="step" data-testid="task-step">
                  {waitingCard(chat.messages) ?? taskProgress(t())}
                </span>
              </Show>
            </p>
            <p class="channel muted" data-channel={chat.sessionChannel}>
              {CHANNEL_WORDS[chat.sessionChannel]}
            </p>
            <TaskUsage taskId={t().id} version={`${t().status}:${chat.usageVersion}`} />
            <TaskControls task={t()} />
          </header>
          <MessageList />
          <Show when={!isTerminal(t().status) && t().sessionId}>
            {(sessionId) => <ReplyForm sessionId={sessionId()} />}
          </Show>
          <Show when={isTerminal(t().status)}>
            <section class={`outcome status-${t().status}`} aria-label="Outcome" data-testid="task-outcome">
              <p>
                <strong>Task {STATUS_LABELS[t().status].toLowerCase()}.</strong>
                <Show when={t().summary}> {t().summary}</Show>
              </p>
              <Show when={t().errorMessage}>
                <p class="error">{t().errorMessage}</p>
              </Show>
              <Show when={t().branch}>
                <p>
                  Branch: <code data-testid="task-branch">{t().branch}</code>{' '}
                  <span class="muted" data-testid="task-push" data-pushed={t().pushed ? 'true' : 'false'}>
                    {t().pushed
                      ? `pushed${t().commitSha ? ` (${t().commitSha!.slice(0, 7)})` : ''}`
                      : t().status === 'completed'
                        ? 'pushing…'
                        : 'not pushed'}
                  </span>
                </p>
              </Show>
              <Show when={t().prUrl}>
                {(url) => (
                  <p>
                    Pull request:{' '}
                    <a href={url()} target="_blank" rel="noreferrer" data-testid="task-pr">
                      {t().prNumber ? `#${t().prNumber}` : url()}
                    </a>
                  </p>
                )}
              </Show>
            </section>
          </Show>
        </article>
      )}
    </Show>
  );
}
