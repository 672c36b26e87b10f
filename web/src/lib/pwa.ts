/**
 * The installable app: registers the service worker the build emits (`/sw.js`, see web/pwa.ts),
 * and follows whether the browser is online, for the offline notice.
 */
import { createSignal } from 'solid-js';

/**
 * Registers `/sw.js` (production builds only: the dev server has none). At once, not on `load`:
 * waiting for `load` left some pages without a worker (seen in Chromium under test).
 */
export function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  navigator.serviceWorker
    .register('/sw.js', { scope: '/' })
    .catch((e: unknown) => console.warn('the app works without its offline copy:', e));
}

const [online, setOnline] = createSignal(navigator.onLine);
window.addEventListener('online', () => setOnline(true));
window.addEventListener('offline', () => setOnline(false));

/** Whether the browser says it has a network connection. */
export { online };
