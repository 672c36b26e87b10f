/**
 * The tokens a task's agent used, as its agent reported them: read when the task opens, again
 * whenever one of its agent sessions reports usage (the `usage` broadcast on the chat's topic; the
 * vm-agent reports after each turn), after a rejoin and when the task's status changes. Nothing
 * shows until an agent reported usage (the demo agent reports `[tokens:N]` of a prompt).
 */
import { createResource, Show } from 'solid-js';
import { taskUsage } from '../lib/supabase/index.ts';
import type { TaskUsage as Usage } from '../lib/types.ts';

const number = new Intl.NumberFormat('en');

export function usageWords(u: Usage): string {
  const parts = [
    `${number.format(u.inputTokens)} in${u.cachedReadTokens ? ` (${number.format(u.cachedReadTokens)} cached)` : ''}`,
    `${number.format(u.outputTokens)} out${u.thoughtTokens ? ` (${number.format(u.thoughtTokens)} reasoning)` : ''}`,
  ];
  if (u.contextUsed !== null) {
    parts.push(`context ${number.format(u.contextUsed)}${u.contextSize ? ` / ${number.format(u.contextSize)}` : ''}`);
  }
  if (u.cost) parts.push(`${u.cost.amount.toFixed(4)} ${u.cost.currency}`);
  return `${parts.join(' · ')}`;
}

/** `version` changes whenever the usage may have: the resource reads it again. */
export function TaskUsage(props: { taskId: string; version: string }) {
  const [usage] = createResource(
    () => [props.taskId, props.version] as const,
    ([taskId]) => taskUsage(taskId).catch(() => null),
  );
  return (
    <Show when={usage.latest}>
      {(u) => (
        <p
          class="task-usage muted"
          data-testid="task-usage"
          data-input={u().inputTokens}
          data-output={u().outputTokens}
        >
          Tokens: {usageWords(u())}
        </p>
      )}
    </Show>
  );
}
