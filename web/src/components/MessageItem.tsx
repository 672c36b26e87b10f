/**
 * One message of the chat as its own row (`li.msg.msg-<role>`): the user's words, the agent's,
 * a collapsed thought or system context, a card, a crash report, the branch's diff, or a system
 * line. Tool calls and plans have rows of their own (ToolCallGroup.tsx, PlanView.tsx). To add
 * something to every message (e.g. an action), add it beside the Switch.
 */
import { Match, Show, Switch } from 'solid-js';
import { branchDiffOf } from '../../../functions/_shared/common/contracts/branch-diff.ts';
import { crashReportOf } from '../../../functions/_shared/common/contracts/messages.ts';
import { cardOf } from '../lib/cards.ts';
import type { ChatItem } from '../lib/messages.ts';
import { ChatCard } from './Cards.tsx';
import { CrashReport } from './CrashReport.tsx';
import { DiffView } from './DiffView.tsx';
import { ForkAction } from './ForkForm.tsx';

type MessageEntry = Extract<ChatItem, { kind: 'message' }>;

export function MessageItem(props: { item: MessageEntry; ref?: (el: HTMLElement) => void }) {
  const m = () => props.item.message;
  return (
    <li ref={props.ref} class={`msg msg-${m().role}`} data-role={m().role} data-id={m().id}>
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
        <Match when={cardOf(m())}>{(card) => <ChatCard message={m()} view={card()} />}</Match>
        <Match when={m().role === 'system' && crashReportOf(m())}>
          {(report) => <CrashReport report={report()} />}
        </Match>
        <Match when={branchDiffOf(m())}>{(diff) => <DiffView diff={diff()} messageId={m().messageId} />}</Match>
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
