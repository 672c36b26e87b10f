/**
 * The installable app: registers the service worker the build emits (`/sw.js`, see web/pwa.ts),
 * and follows whether the browser is online, for the offline notice.
 */
import { createSignal } from 'solid-js';

/** Registers `/sw.js` once the page has loaded (production builds only: the dev server has none). */
export function registerServiceWorker(): void {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return;
  const register = () => {
    navigator.serviceWorker
      .register('/sw.js', { scope: '/' })
      .catch((e: unknown) => console.warn('the app works without its offline copy:', e));
  };
  if (document.readyState === 'complete') register();
  else window.addEventListener('load', register, { once: true });
}

const [online, setOnline] = createSignal(navigator.onLine);
window.addEventListener('online', () => setOnline(true));
window.addEventListener('offline', () => setOnline(false));

/** Whether the browser says it has a network connection. */
export { online };
