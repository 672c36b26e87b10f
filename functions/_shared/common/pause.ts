/**
 * Resolves after `ms`, or at once when `signal` aborts (never rejects): the wait between polls
 * and retries. Pure TypeScript, so the functions (Deno) and the vm-agent (Node) share it.
 */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
