/**
 * A screen whose code loads when it is first shown (a dynamic import: its own chunk, not part of
 * the first load), with "Loading…" meanwhile. Unlike `lazy()` it needs no `<Suspense>`, so the
 * resources the screen reads keep their own loading states.
 */
import { type Component, createSignal, Show } from 'solid-js';
import { Dynamic } from 'solid-js/web';

export function lazyScreen<P extends object>(load: () => Promise<Component<P>>): Component<P> {
  let loaded: Component<P> | undefined;
  let loading: Promise<Component<P>> | undefined;
  return (props: P) => {
    const [screen, setScreen] = createSignal<Component<P> | undefined>(loaded);
    const [failed, setFailed] = createSignal(false);
    if (!loaded) {
      loading ??= load().then((c) => (loaded = c));
      loading.then(
        (c) => setScreen(() => c),
        () => {
          loading = undefined; // the next time it is shown, try again
          setFailed(true);
        },
      );
    }
    return (
      <Show
        when={screen()}
        fallback={
          <p class={failed() ? 'error' : 'muted'} role="status">
            {failed() ? 'This page could not be loaded. Reload to try again.' : 'Loading…'}
          </p>
        }
      >
        {(c) => <Dynamic component={c()} {...props} />}
      </Show>
    );
  };
}
