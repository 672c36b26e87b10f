/**
 * Browser notifications (the Notification API) for a tab the user is not looking at. Permission is
 * asked only after a user's gesture that says they want to hear back (opening the inbox), never on load.
 */

const supported = () => typeof window !== 'undefined' && 'Notification' in window;

/** 'granted', 'denied', 'default', or 'unsupported' where the browser has no Notification API. */
export function browserNotifyPermission(): NotificationPermission | 'unsupported' {
  return supported() ? Notification.permission : 'unsupported';
}

/** Asks for permission once (only while the browser has not been asked yet). */
export async function askBrowserNotifyPermission(): Promise<void> {
  if (!supported() || Notification.permission !== 'default') return;
  try {
    await Notification.requestPermission();
  } catch {
    // an old callback-only implementation or a refusal: nothing to do
  }
}

/** Shows a browser notification when the tab is hidden and the user allowed them; returns whether it did. */
export function notifyWhenHidden(title: string, body: string, tag: string, onClick: () => void): boolean {
  if (!supported() || Notification.permission !== 'granted' || document.visibilityState !== 'hidden') return false;
  try {
    const note = new Notification(title, { body, tag });
    note.onclick = () => {
      window.focus();
      onClick();
      note.close();
    };
    return true;
  } catch {
    return false; // e.g. a browser that only allows notifications from a service worker
  }
}
