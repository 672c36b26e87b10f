/**
 * One tool call with everything reported about it (the call and its updates, folded by
 * `toolCallId` in web/src/lib/messages.ts) as one expandable row: title, kind and status at a
 * glance; opened, the files it touched, its input, what it produced (text, a file's diff, a
 * terminal) and its raw output.
 */
import { createSignal, For, Match, Show, Switch } from 'solid-js';
import { isOpen, setOpen } from '../lib/disclosure.ts';
import { lineDiff } from '../lib/line-diff.ts';
import type { ChatItem, ToolContent } from '../lib/messages.ts';
import { FileDiff } from './DiffView.tsx';

type ToolEntry = Extract<ChatItem, { kind: 'tool' }>;

const STATUS_WORDS: Record<string, string> = {
  pending: 'Pending',
  in_progress: 'Running',
  completed: 'Done',
  failed: 'Failed',
};

const KIND_ICONS: Record<string, string> = {
  read: '📄',
  edit: '✏️',
  delete: '🗑',
  move: '↔',
  search: '🔍',
  execute: '▶',
  think: '💭',
  fetch: '🌐',
};

/** A value as readable text: strings as they are, the rest as indented JSON. */
function shown(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    return String(value);
  }
}

function Content(props: { content: ToolContent; openKey: string }) {
  const text = () => (props.content.type === 'text' ? props.content : null);
  const terminal = () => (props.content.type === 'terminal' ? props.content : null);
  const diff = () => {
    const c = props.content;
    if (c.type !== 'diff') return null;
    const d = lineDiff(c.oldText, c.newText);
    return {
      path: c.path,
      oldPath: null,
      status: c.oldText === null ? ('added' as const) : ('modified' as const),
      additions: d.additions,
      deletions: d.deletions,
      binary: false,
      hunks: d.hunks,
      truncated: d.truncated,
    };
  };
  return (
    <Switch>
      <Match when={text()}>{(c) => <pre class="tool-text">{c().text}</pre>}</Match>
      <Match when={diff()}>{(file) => <FileDiff file={file()} openKey={props.openKey} initiallyOpen />}</Match>
      <Match when={terminal()}>{(c) => <p class="muted">Terminal {c().terminalId}</p>}</Match>
    </Switch>
  );
}

export function ToolCallGroup(props: { item: ToolEntry; ref?: (el: HTMLElement) => void }) {
  const t = () => props.item.tool;
  const openKey = () => `${props.item.key}@${props.item.firstId}`;
  const [open, setOpenState] = createSignal(isOpen(openKey()));
  const hasDetail = () =>
    t().locations.length > 0 || t().input !== null || t().output !== null || t().content.length > 0;
  return (
    <li
      ref={props.ref}
      class="msg msg-tool"
      data-role="tool"
      data-id={props.item.firstId}
      data-status={t().status}
      data-kind={t().kind ?? undefined}
      data-records={t().records}
    >
      <details
        class="tool-group"
        open={open()}
        onToggle={(e) => {
          setOpen(openKey(), e.currentTarget.open);
          setOpenState(e.currentTarget.open);
        }}
      >
        <summary>
          <span class="tool-icon" aria-hidden="true">
            {KIND_ICONS[t().kind ?? ''] ?? '⚙'}
          </span>
          <span class="tool-title">{t().title}</span>
          <Show when={t().kind && t().kind !== 'other'}>
            <span class="tool-kind">{t().kind}</span>
          </Show>
          <span class={`tool-status tool-${t().status}`}>{STATUS_WORDS[t().status] ?? t().status}</span>
        </summary>
        <Show when={open()}>
          <div class="tool-detail">
            <Show when={!hasDetail()}>
              <p class="muted">The agent reported nothing more about this call.</p>
            </Show>
            <Show when={t().locations.length > 0}>
              <p class="tool-locations">
                Files:{' '}
                <For each={t().locations}>
                  {(path) => (
                    <>
                      <code>{path}</code>{' '}
                    </>
                  )}
                </For>
              </p>
            </Show>
            <Show when={t().input !== null}>
              <h4>Input</h4>
              <pre class="tool-text tool-input">{shown(t().input)}</pre>
            </Show>
            <Show when={t().content.length > 0}>
              <h4>Result</h4>
              <For each={t().content}>{(c, i) => <Content content={c} openKey={`${openKey()}#${i()}`} />}</For>
            </Show>
            <Show when={t().output !== null}>
              <h4>Output</h4>
              <pre class="tool-text tool-output">{shown(t().output)}</pre>
            </Show>
          </div>
        </Show>
      </details>
    </li>
  );
}
