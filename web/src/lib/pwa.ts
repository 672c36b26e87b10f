/**
 * The installable app: registers the service worker the build emits (`/sw.js`, see web/pwa.ts),
 * and follows whether the browser is online, for the offline notice.
 */
import { createSignal } from 'solid-js';

/**
 * Registers `/sw.js` in what `vite build` made (the dev server has none). Checked by mode, not
 * `PROD`: `PROD` follows NODE_ENV, which a build run under vitest has set to `test`.
 */
export function registerServiceWorker(): void {
  if (import.meta.env.MODE !== 'production' || !('serviceWorker' in navigator)) return;
  navigator.serviceWorker
    .register('/sw.js', { scope: '/' })
    .catch((e: unknown) => console.warn('the app works without its offline copy:', e));
}

const [online, setOnline] = createSignal(navigator.onLine);
window.addEventListener('online', () => setOnline(true));
window.addEventListener('offline', () => setOnline(false));

/** Whether the browser says it has a network connection. */
export { online };
