import { createEffect, For, onCleanup, Show } from 'solid-js';
import { askBrowserNotifyPermission } from '../lib/browser-notify.ts';
import { inboxOpen, setInboxOpen } from '../lib/route.ts';
import {
  inbox,
  markAllRead,
  markRead,
  notificationWords,
  open,
  showOlder,
  startInbox,
  stopInbox,
} from '../stores/inbox.ts';

/**
 * The inbox in the top bar: a button with the user's unread count, and (open: `?inbox` in the URL)
 * the list of notifications, newest first, a page at a time ("Show older"). An entry opens its task;
 * opening the inbox is the moment the browser asks whether SAM may show notifications while the tab
 * is hidden.
 */
export function Inbox(props: { userId: string }) {
  createEffect(() => startInbox(props.userId));
  onCleanup(stopInbox);

  const toggle = () => {
    const next = !inboxOpen();
    setInboxOpen(next);
    if (next) void askBrowserNotifyPermission();
  };
  const when = (iso: string) => new Date(iso).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });

  return (
    <div class="inbox" data-inbox-channel={inbox.status()}>
      <button
        type="button"
        class="link inbox-toggle"
        aria-expanded={inboxOpen()}
        aria-controls="inbox-panel"
        onClick={toggle}
      >
        Inbox
        <Show when={inbox.unread() > 0}>
          {' '}
          <span class="inbox-count" data-testid="inbox-count" aria-label={`${inbox.unread()} unread`}>
            {inbox.unread()}
          </span>
        </Show>
      </button>
      <Show when={inboxOpen()}>
        <section id="inbox-panel" class="inbox-panel" aria-label="Notifications">
          <div class="inbox-head">
            <strong>Notifications</strong>
            <button type="button" class="link" disabled={inbox.unread() === 0} onClick={() => void markAllRead()}>
              Mark all read
            </button>
          </div>
          <Show when={inbox.error()}>
            <p class="error" role="alert">
              {inbox.error()}
            </p>
          </Show>
          <Show when={inbox.items().length > 0} fallback={<p class="muted">Nothing yet.</p>}>
            <ul class="inbox-list">
              <For each={inbox.items()}>
                {(n) => (
                  <li class="inbox-item" data-testid="inbox-item" data-read={n.readAt ? 'true' : 'false'}>
                    <button type="button" class="inbox-open" onClick={() => void open(n)}>
                      <span class="inbox-what">{notificationWords(n.type)}</span>
                      <span class="inbox-title">{n.title}</span>
                      <Show when={n.body}>
                        <span class="inbox-body">{n.body}</span>
                      </Show>
                      <span class="muted inbox-when">{when(n.createdAt)}</span>
                    </button>
                    <Show when={!n.readAt}>
                      <button type="button" class="link" onClick={() => void markRead([n.id])}>
                        Mark read
                      </button>
                    </Show>
                  </li>
                )}
              </For>
            </ul>
            <Show when={inbox.hasOlder()}>
              <button
                type="button"
                class="link inbox-older"
                disabled={inbox.loadingOlder()}
                aria-busy={inbox.loadingOlder()}
                onClick={() => void showOlder()}
              >
                Show older
              </button>
            </Show>
          </Show>
        </section>
      </Show>
    </div>
  );
}
