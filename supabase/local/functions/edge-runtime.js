// Preloaded (`deno run --preload`) into every edge function's Deno process by the local stand-in
// (supabase/local/functions). Plain Deno has no `EdgeRuntime` global; hosted functions use
// `EdgeRuntime.waitUntil(promise)` to keep working after the response is sent. Here the process
// lives on anyway, so waitUntil only keeps the promise from going unhandled.
const pending = new Set();
globalThis.EdgeRuntime = {
  waitUntil(promise) {
    const tracked = Promise.resolve(promise)
      .catch((e) => console.error('EdgeRuntime.waitUntil: a background task failed:', e))
      .finally(() => pending.delete(tracked));
    pending.add(tracked);
    return tracked;
  },
};

// Stop at once on SIGTERM, as hosted workers are stopped: Deno.serve's graceful shutdown would
// otherwise wait for every handle to close (an idle database pool never does). Listeners of
// `beforeunload` still run first, as on the edge runtime.
Deno.addSignalListener('SIGTERM', () => {
  try {
    globalThis.dispatchEvent(new Event('beforeunload'));
  } finally {
    Deno.exit(0);
  }
});

// Leave with the stack: when the process that started this one is gone (SIGKILL, crash), the
// parent pid changes and the function exits instead of lingering on its port.
const parent = Deno.ppid;
Deno.unrefTimer(
  setInterval(() => {
    if (Deno.ppid !== parent) Deno.exit(0);
  }, 1000),
);
