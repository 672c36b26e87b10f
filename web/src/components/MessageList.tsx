/**
 * The open task's conversation: the session's messages folded into chat items (tool calls with
 * their results, one plan per turn; web/src/lib/messages.ts) in a windowed list, so a session of
 * 10,000 messages renders only the rows near the viewport. The store merges live and re-read
 * messages (stores/chat.ts); messages never change once stored, so the items are rebuilt from the
 * plain array whenever it is replaced.
 */
import { createMemo, Match, Show, Switch } from 'solid-js';
import { unwrap } from 'solid-js/store';
import { type ChatItem, chatItems } from '../lib/messages.ts';
import { chat } from '../stores/chat.ts';
import { MessageItem } from './MessageItem.tsx';
import { PlanView } from './PlanView.tsx';
import { ToolCallGroup } from './ToolCallGroup.tsx';
import { VirtualList } from './VirtualList.tsx';
import './conversation.css';

export function MessageList() {
  const items = createMemo(() => {
    const messages = chat.messages;
    void messages.length;
    return chatItems(unwrap(messages));
  });

  return (
    <Show
      when={chat.messagesLoaded || chat.messages.length > 0}
      fallback={
        <div class="messages-scroll">
          <p class="muted">Loading messages…</p>
        </div>
      }
    >
      <VirtualList
        items={items()}
        key={(item) => item.key}
        scrollClass="messages-scroll"
        listClass="messages"
        label="Conversation"
        announce={announceItem}
      >
        {(item, ref) => <ChatRow item={item()} ref={ref} />}
      </VirtualList>
    </Show>
  );
}

/** What a screen reader hears of a new row of a long (windowed) conversation. */
function announceItem(item: ChatItem): string | null {
  if (item.kind === 'tool') return `Tool call: ${item.tool.title}`;
  if (item.kind !== 'message') return null;
  const { role, content, origin } = item.message;
  if (origin === 'system' && role !== 'system') return null; // context SAM gave the agent
  const text = content.length > 300 ? `${content.slice(0, 300)}…` : content;
  if (role === 'assistant') return `Agent: ${text}`;
  if (role === 'user') return `You: ${text}`;
  if (role === 'system') return text;
  return null;
}

function ChatRow(props: { item: ChatItem; ref: (el: HTMLElement) => void }) {
  const tool = () => (props.item.kind === 'tool' ? props.item : undefined);
  const plan = () => (props.item.kind === 'plan' ? props.item : undefined);
  const message = () => (props.item.kind === 'message' ? props.item : undefined);
  return (
    <Switch>
      <Match when={tool()}>{(t) => <ToolCallGroup item={t()} ref={props.ref} />}</Match>
      <Match when={plan()}>{(p) => <PlanView item={p()} ref={props.ref} />}</Match>
      <Match when={message()}>{(m) => <MessageItem item={m()} ref={props.ref} />}</Match>
    </Switch>
  );
}
