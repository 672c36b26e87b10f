import { createEffect, createMemo, Index, on, Show } from 'solid-js';
import { type ChatItem, chatItems } from '../lib/messages.ts';
import { chat } from '../stores/chat.ts';
import { MessageItem, ToolItem } from './MessageItem.tsx';

export function MessageList() {
  let list: HTMLOListElement | undefined;
  const items = createMemo(() => chatItems(chat.messages));

  // Follow the stream while the reader is at the bottom.
  createEffect(
    on(
      () => chat.messages.length,
      () => {
        const el = list?.parentElement;
        if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 120) el.scrollTop = el.scrollHeight;
      },
    ),
  );

  return (
    <div class="messages-scroll">
      <Show when={chat.messagesLoaded || chat.messages.length > 0} fallback={<p class="muted">Loading messages…</p>}>
        <ol class="messages" ref={list} aria-label="Conversation" aria-live="polite" aria-relevant="additions">
          <Index each={items()}>{(item) => <ChatRow item={item()} />}</Index>
        </ol>
      </Show>
    </div>
  );
}

function ChatRow(props: { item: ChatItem }) {
  const tool = () => (props.item.kind === 'tool' ? props.item : undefined);
  const message = () => (props.item.kind === 'message' ? props.item : undefined);
  return (
    <>
      <Show when={tool()}>{(t) => <ToolItem item={t()} />}</Show>
      <Show when={message()}>{(m) => <MessageItem item={m()} />}</Show>
    </>
  );
}
