import { Show } from 'solid-js';
import { online } from '../lib/pwa.ts';

/** Says so when the browser is offline: the app shell still runs from its saved copy. */
export function OfflineNotice() {
  return (
    <Show when={!online()}>
      <p class="offline-notice" role="status" data-testid="offline-notice">
        You are offline. This is the saved copy of SAM: projects and tasks load again when the connection is back.
      </p>
    </Show>
  );
}
