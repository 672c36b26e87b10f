/**
 * A list that renders only the rows near the viewport once it is long (windowing), and every row
 * while it is short (find-in-page and screen readers see the whole conversation). Rows vary in
 * height: each rendered row is measured (ResizeObserver) and remembered by key; rows never seen
 * count as `estimate` px. The rows above and below the window are stood in for by the list's
 * padding, so the scrollbar stays true. While the reader is at the bottom (`follow`), growth keeps
 * the newest row in view; scrolled up, nothing moves under them.
 *
 * Rows are keyed: a row whose item changes (a tool call's new status) updates in place; the render
 * function gets the item as an accessor and a `ref` to put on the row's own element.
 *
 * Screen readers: a list rendered whole is a polite live region (new rows are read). A windowed one
 * is not (rows scrolled into the DOM are not news); with `announce`, rows appended at its end a few
 * at a time (live, not a page of history) are read through a hidden live region instead.
 */
import { createEffect, createMemo, createSignal, For, on, onCleanup, onMount, Show, type JSX } from 'solid-js';

export interface VirtualListProps<T> {
  items: readonly T[];
  key: (item: T) => string;
  children: (item: () => T, ref: (el: HTMLElement) => void) => JSX.Element;
  /** Lists longer than this are windowed; default 200. */
  windowFrom?: number;
  /** Height of a row not measured yet, in px; default 64. */
  estimate?: number;
  /** How far beyond the viewport rows are rendered, in px; default 800. */
  overscan?: number;
  /** Keep the newest row in view while the reader is at the bottom; default true. */
  follow?: boolean;
  /** The scrolling container's class, and the list's. */
  scrollClass?: string;
  listClass?: string;
  label?: string;
  /** What a screen reader hears of a row appended while the list is windowed; null: nothing. */
  announce?: (item: T) => string | null;
}

/** More rows than this appended at once are history being read, not news. */
const ANNOUNCE_AT_MOST = 5;

/** Distance from the bottom (px) within which the reader counts as following the stream. */
const FOLLOW_SLACK = 120;

/** The first index whose offset is greater than `value` (offsets ascend). */
function upperBound(offsets: Float64Array, value: number): number {
  let lo = 0;
  let hi = offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (offsets[mid]! <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function VirtualList<T>(props: VirtualListProps<T>) {
  let scroller: HTMLDivElement | undefined;
  let list: HTMLOListElement | undefined;
  const heights = new Map<string, number>();
  const keyOf = new WeakMap<Element, string>();
  const [measured, setMeasured] = createSignal(0);
  const [scrollTop, setScrollTop] = createSignal(0);
  const [viewport, setViewport] = createSignal(0);
  const [gap, setGap] = createSignal(0);
  let pinned = true;

  const estimate = () => props.estimate ?? 64;
  const keys = createMemo(() => props.items.map((item) => props.key(item)));
  const byKey = createMemo(() => {
    const map = new Map<string, T>();
    const ks = keys();
    props.items.forEach((item, i) => map.set(ks[i]!, item));
    return map;
  });
  const windowed = () => props.items.length > (props.windowFrom ?? 200);

  /** offsets[i] = the top of row i within the list; offsets[n] = the list's height. */
  const offsets = createMemo(() => {
    measured();
    const ks = keys();
    const off = new Float64Array(ks.length + 1);
    const g = gap();
    const e = estimate();
    for (let i = 0; i < ks.length; i++) off[i + 1] = off[i]! + (heights.get(ks[i]!) ?? e) + g;
    return off;
  });

  const range = createMemo<[number, number]>(
    () => {
      const n = keys().length;
      if (!windowed()) return [0, n];
      const off = offsets();
      const overscan = props.overscan ?? 800;
      const top = scrollTop() - overscan;
      const bottom = scrollTop() + Math.max(viewport(), 1) + overscan;
      const start = Math.min(Math.max(0, upperBound(off, top) - 1), n);
      const end = Math.min(Math.max(start + 1, upperBound(off, bottom)), n);
      return [start, end];
    },
    [0, 0],
    { equals: (a, b) => a[0] === b[0] && a[1] === b[1] },
  );
  const visible = createMemo(() => keys().slice(range()[0], range()[1]));
  const padding = () => {
    if (!windowed()) return { top: 0, bottom: 0 };
    const off = offsets();
    const [start, end] = range();
    return { top: off[start]!, bottom: Math.max(0, off[off.length - 1]! - off[end]! - gap()) };
  };

  let frame = 0;
  const rows = new ResizeObserver((entries) => {
    let changed = false;
    for (const entry of entries) {
      const key = keyOf.get(entry.target);
      if (key === undefined) continue;
      const h = entry.borderBoxSize?.[0]?.blockSize ?? (entry.target as HTMLElement).offsetHeight;
      if (h > 0 && heights.get(key) !== h) {
        heights.set(key, h);
        changed = true;
      }
    }
    if (changed && !frame) {
      frame = requestAnimationFrame(() => {
        frame = 0;
        setMeasured((v) => v + 1);
      });
    }
  });
  const view = new ResizeObserver(() => {
    if (scroller) setViewport(scroller.clientHeight);
  });

  /** Where this list last scrolled itself to: the scroll event that follows is not the reader's. */
  let ownTop = -1;
  const toBottom = () => {
    if (!scroller) return;
    scroller.scrollTop = scroller.scrollHeight;
    ownTop = scroller.scrollTop;
    setScrollTop(ownTop);
  };
  const onScroll = () => {
    if (!scroller) return;
    const top = scroller.scrollTop;
    setScrollTop(top);
    if (Math.abs(top - ownTop) < 1) return;
    ownTop = -1;
    pinned = scroller.scrollHeight - top - scroller.clientHeight < FOLLOW_SLACK;
  };

  onMount(() => {
    if (list) setGap(parseFloat(getComputedStyle(list).rowGap) || 0);
    if (scroller) {
      setViewport(scroller.clientHeight);
      view.observe(scroller);
    }
  });
  onCleanup(() => {
    rows.disconnect();
    view.disconnect();
    if (frame) cancelAnimationFrame(frame);
  });

  const [announcement, setAnnouncement] = createSignal('');
  createEffect(
    on(
      () => props.items.length,
      (length, before) => {
        const announce = props.announce;
        if (!announce || before === undefined || length <= before || length - before > ANNOUNCE_AT_MOST) return;
        const said = props.items
          .slice(before)
          .map((item) => announce(item))
          .filter((text): text is string => Boolean(text));
        if (said.length > 0) setAnnouncement(said.join('\n'));
      },
    ),
  );

  // Follow the stream (and the first load) while the reader is at the bottom.
  createEffect(
    on([() => props.items.length, measured], () => {
      if (props.follow !== false && pinned) toBottom();
    }),
  );

  return (
    <div class={props.scrollClass} ref={scroller} onScroll={onScroll} data-windowed={windowed() ? 'true' : 'false'}>
      <ol
        class={props.listClass}
        ref={list}
        aria-label={props.label}
        // Rows added by scrolling are not news: only a list rendered whole announces additions.
        aria-live={windowed() ? 'off' : 'polite'}
        aria-relevant="additions"
        data-rows={props.items.length}
        style={{ 'padding-top': `${padding().top}px`, 'padding-bottom': `${padding().bottom}px` }}
      >
        <For each={visible()}>
          {(key) => {
            let last: T | undefined;
            const item = () => (last = byKey().get(key) ?? last) as T;
            let el: HTMLElement | undefined;
            onCleanup(() => {
              if (el) rows.unobserve(el);
            });
            const ref = (e: HTMLElement) => {
              el = e;
              keyOf.set(e, key);
              rows.observe(e);
            };
            return props.children(item, ref);
          }}
        </For>
      </ol>
      <Show when={props.announce}>
        <p class="sr-only" aria-live="polite" data-testid="list-announcement">
          {windowed() ? announcement() : ''}
        </p>
      </Show>
    </div>
  );
}
