import { For, Match, Show, Switch } from 'solid-js';
import { crashReportOf } from '../../../functions/_shared/common/contracts/messages.ts';
import { cardOf } from '../lib/cards.ts';
import { type ChatItem, planItems } from '../lib/messages.ts';
import { ChatCard } from './Cards.tsx';
import { CrashReport } from './CrashReport.tsx';
import { ForkAction } from './ForkForm.tsx';

type MessageEntry = Extract<ChatItem, { kind: 'message' }>;
type ToolEntry = Extract<ChatItem, { kind: 'tool' }>;

const TOOL_STATUS_WORDS: Record<string, string> = {
  pending: 'Pending',
  in_progress: 'Running',
  completed: 'Done',
  failed: 'Failed',
};

const PLAN_MARKS: Record<string, string> = { completed: '✓', in_progress: '◐', pending: '○' };

export function ToolItem(props: { item: ToolEntry }) {
  return (
    <li class="msg msg-tool" data-role="tool" data-id={props.item.firstId} data-status={props.item.tool.status}>
      <span class="tool-icon" aria-hidden="true">
        ⚙
      </span>
      <span class="tool-title">{props.item.tool.title}</span>
      <span class={`tool-status tool-${props.item.tool.status}`}>
        {TOOL_STATUS_WORDS[props.item.tool.status] ?? props.item.tool.status}
      </span>
    </li>
  );
}

export function MessageItem(props: { item: MessageEntry }) {
  const m = () => props.item.message;
  return (
    <li class={`msg msg-${m().role}`} data-role={m().role} data-id={m().id}>
      <Switch fallback={<div class="msg-text">{m().content}</div>}>
        <Match when={m().origin === 'system' && m().role !== 'system'}>
          <details class="system-context">
            <summary>System context</summary>
            <div class="msg-text">{m().content}</div>
          </details>
        </Match>
        <Match when={m().role === 'user'}>
          <span class="sr-only">You: </span>
          <div class="msg-text">{m().content}</div>
        </Match>
        <Match when={m().role === 'thought'}>
          <details class="thought">
            <summary>Thinking</summary>
            <div class="msg-text">{m().content}</div>
          </details>
        </Match>
        <Match when={m().role === 'plan'}>
          <div class="plan">
            <strong>Plan</strong>
            <ul>
              <For each={planItems(m())}>
                {(entry) => (
                  <li class={`plan-${entry.status}`}>
                    <span aria-hidden="true">{PLAN_MARKS[entry.status] ?? '○'} </span>
                    {entry.content}
                    <span class="sr-only"> ({entry.status.replace('_', ' ')})</span>
                  </li>
                )}
              </For>
            </ul>
          </div>
        </Match>
        <Match when={cardOf(m())}>{(card) => <ChatCard message={m()} view={card()} />}</Match>
        <Match when={m().role === 'system' && crashReportOf(m())}>
          {(report) => <CrashReport report={report()} />}
        </Match>
        <Match when={m().role === 'system'}>
          <div class="msg-text system-line">{m().content}</div>
        </Match>
      </Switch>
      <Show when={(m().role === 'user' || m().role === 'assistant') && m().origin !== 'system'}>
        <ForkAction messageId={m().id} />
      </Show>
    </li>
  );
}
