/**
 * The agent's plan: one row per turn, where the plan first appeared, showing its latest entries
 * (each revision the agent sends replaces them; web/src/lib/messages.ts folds them).
 */
import { For, Show } from 'solid-js';
import type { ChatItem } from '../lib/messages.ts';

type PlanEntry = Extract<ChatItem, { kind: 'plan' }>;

const PLAN_MARKS: Record<string, string> = { completed: '✓', in_progress: '◐', pending: '○' };

export function PlanView(props: { item: PlanEntry; ref?: (el: HTMLElement) => void }) {
  const plan = () => props.item.plan;
  const done = () => plan().entries.filter((e) => e.status === 'completed').length;
  return (
    <li
      ref={props.ref}
      class="msg msg-plan"
      data-role="plan"
      data-id={props.item.firstId}
      data-revisions={plan().revisions}
      data-latest-id={plan().latestId}
    >
      <div class="plan">
        <strong>Plan</strong>{' '}
        <span class="muted plan-progress">
          {done()}/{plan().entries.length} done
          <Show when={plan().revisions > 0}>
            {' '}
            · revised {plan().revisions} time{plan().revisions === 1 ? '' : 's'}
          </Show>
        </span>
        <ul>
          <For each={plan().entries}>
            {(entry) => (
              <li class={`plan-${entry.status}`} data-status={entry.status}>
                <span aria-hidden="true">{PLAN_MARKS[entry.status] ?? '○'} </span>
                {entry.content}
                <span class="sr-only"> ({entry.status.replace('_', ' ')})</span>
              </li>
            )}
          </For>
        </ul>
      </div>
    </li>
  );
}
