/**
 * Diffs in the chat: the task branch's changes (a `branch_diff` system message: a collapsible list
 * of files with their hunks) and one file's change (an agent's tool call with `diff` content).
 * Added lines green, removed lines red; a file's hunks are built only once it is opened.
 */
import { createSignal, For, Show, untrack } from 'solid-js';
import type { BranchDiff, DiffFile } from '../../../functions/_shared/common/contracts/branch-diff.ts';
import { isOpen, setOpen } from '../lib/disclosure.ts';

const STATUS_MARKS: Record<DiffFile['status'], string> = {
  added: 'A',
  modified: 'M',
  deleted: 'D',
  renamed: 'R',
  copied: 'C',
  changed: 'T',
};

const lineClass = (line: string) =>
  line.startsWith('+') ? 'diff-line diff-add' : line.startsWith('-') ? 'diff-line diff-del' : 'diff-line';

function Counts(props: { additions: number; deletions: number }) {
  return (
    <span class="diff-counts">
      <span class="diff-plus">+{props.additions}</span> <span class="diff-minus">−{props.deletions}</span>
    </span>
  );
}

/** One file: its status, path and counts; opened, its hunks. `openKey` remembers the reader's choice. */
export function FileDiff(props: { file: DiffFile; openKey: string; initiallyOpen?: boolean }) {
  // Where the reader left it, read once: the row's own toggle keeps it from then on.
  const [open, setOpenState] = createSignal(untrack(() => isOpen(props.openKey, props.initiallyOpen ?? false)));
  const f = () => props.file;
  return (
    <details
      class="diff-file"
      data-path={f().path}
      data-status={f().status}
      open={open()}
      onToggle={(e) => {
        setOpen(props.openKey, e.currentTarget.open);
        setOpenState(e.currentTarget.open);
      }}
    >
      <summary>
        <span class={`diff-status diff-status-${f().status}`} title={f().status}>
          {STATUS_MARKS[f().status]}
        </span>{' '}
        <code class="diff-path">
          <Show when={f().oldPath && f().oldPath !== f().path}>{f().oldPath} → </Show>
          {f().path}
        </code>{' '}
        <Counts additions={f().additions} deletions={f().deletions} />
      </summary>
      <Show when={open()}>
        <Show when={f().binary}>
          <p class="muted">Binary file: not shown.</p>
        </Show>
        <For each={f().hunks}>
          {(hunk) => (
            <div class="diff-hunk">
              <div class="diff-hunk-header">{hunk.header}</div>
              <pre class="diff-lines">
                <For each={hunk.lines}>{(line) => <code class={lineClass(line)}>{line}</code>}</For>
              </pre>
            </div>
          )}
        </For>
        <Show when={f().truncated}>
          <p class="muted">Part of this file's change is too large to show here; the branch has all of it.</p>
        </Show>
      </Show>
    </details>
  );
}

/** The task branch's changes against its base, as the vm-agent recorded them after the commit. */
export function DiffView(props: { diff: BranchDiff; messageId: string }) {
  const d = () => props.diff;
  const more = () => d().totalFiles - d().files.length;
  return (
    <section class="branch-diff" data-testid="branch-diff" aria-label="Changes on the branch">
      <p class="branch-diff-summary">
        <strong>Changes</strong>
        <Show when={d().branch}>
          {' '}
          on <code>{d().branch}</code>
        </Show>{' '}
        against <code>{d().base}</code>: {d().totalFiles} file{d().totalFiles === 1 ? '' : 's'},{' '}
        <Counts additions={d().additions} deletions={d().deletions} />
        <span class="muted"> ({d().headSha.slice(0, 7)})</span>
      </p>
      <ul class="diff-files">
        <For each={d().files}>
          {(file) => (
            <li>
              <FileDiff file={file} openKey={`${props.messageId}:${file.path}`} initiallyOpen={d().files.length <= 3} />
            </li>
          )}
        </For>
      </ul>
      <Show when={more() > 0}>
        <p class="muted">
          …and {more()} more file{more() === 1 ? '' : 's'}.
        </p>
      </Show>
    </section>
  );
}
