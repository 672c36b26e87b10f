/**
 * Task titles from a model: one short request (OpenAI-compatible chat completions or Anthropic
 * messages), a per-attempt timeout, retries with exponential backoff on timeouts, network errors,
 * 429 and 5xx (never on other 4xx), and truncation as the fallback. The clock is injected so tests
 * assert the timings without waiting for them.
 */
import { TITLE_MAX_LENGTH, type TitleConfig, type TitleModel } from './config.ts';

export interface Clock {
  /** Resolves after `ms`; resolves at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

export interface TitleResult {
  title: string;
  source: 'message' | 'model' | 'truncation';
  attempts: number;
  /** Why the model's title was not used (truncation only). */
  reason?: string;
}

/** The title submit_task sets first (sam_initial_title): whitespace folded, ≤100 with an ellipsis. */
export function truncateTitle(message: string): string {
  const m = message.replace(/\s+/g, ' ').trim();
  if (m.length === 0) return 'Untitled task';
  return m.length <= TITLE_MAX_LENGTH ? m : `${m.slice(0, TITLE_MAX_LENGTH - 1).trimEnd()}…`;
}

/** A model's answer as a title: one line, no markdown, no quotes or "Title:" prefix, ≤100 characters. */
export function cleanTitle(text: string): string {
  let t = text.split('\n').find((line) => line.trim() !== '') ?? '';
  t = t
    .replace(/^\s*(#+|[-*>]|\d+\.)\s+/, '')
    .replace(/^\s*title\s*:\s*/i, '')
    .replace(/[*_`~]/g, '')
    .trim()
    .replace(/^["'“”‘’]+|["'“”‘’.]+$/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  return t.length <= TITLE_MAX_LENGTH ? t : `${t.slice(0, TITLE_MAX_LENGTH - 1).trimEnd()}…`;
}

const SYSTEM_PROMPT =
  'You write the title of a coding task from the request that starts it. Answer with the title only: ' +
  `at most ${TITLE_MAX_LENGTH} characters, imperative mood, no markdown, no quotes. Do not do the task.`;

class AttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

function request(model: TitleModel, message: string): { url: string; init: RequestInit } {
  const prompt = message.slice(0, 4000);
  if (model.api === 'anthropic') {
    return {
      url: `${model.baseUrl}/v1/messages`,
      init: {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-api-key': model.apiKey,
          'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify({
          model: model.model,
          max_tokens: 64,
          system: SYSTEM_PROMPT,
          messages: [{ role: 'user', content: prompt }],
        }),
      },
    };
  }
  return {
    url: `${model.baseUrl}/chat/completions`,
    init: {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${model.apiKey}` },
      body: JSON.stringify({
        model: model.model,
        max_tokens: 64,
        messages: [
          { role: 'system', content: SYSTEM_PROMPT },
          { role: 'user', content: prompt },
        ],
      }),
    },
  };
}

function answerText(api: TitleModel['api'], body: unknown): string {
  if (api === 'anthropic') {
    const content = (body as { content?: { type?: string; text?: string }[] }).content ?? [];
    return content.find((c) => c.type === 'text')?.text ?? '';
  }
  return (body as { choices?: { message?: { content?: string } }[] }).choices?.[0]?.message?.content ?? '';
}

async function attempt(model: TitleModel, message: string, timeoutMs: number, clock: Clock, f: typeof fetch) {
  const abort = new AbortController();
  const stopTimer = new AbortController();
  const timedOut = clock.sleep(timeoutMs, stopTimer.signal).then(() => {
    if (!stopTimer.signal.aborted) abort.abort();
    return 'timeout' as const;
  });
  const { url, init } = request(model, message);
  const call = (async () => {
    const res = await f(url, { ...init, signal: abort.signal });
    if (!res.ok) {
      await res.body?.cancel();
      const retryable = res.status === 429 || res.status >= 500;
      throw new AttemptError(`the title model answered ${res.status}`, retryable);
    }
    return cleanTitle(answerText(model.api, await res.json()));
  })();
  try {
    const winner = await Promise.race([call, timedOut]);
    if (winner === 'timeout') throw new AttemptError(`the title model did not answer within ${timeoutMs} ms`, true);
    return winner;
  } catch (e) {
    if (e instanceof AttemptError) throw e;
    if (abort.signal.aborted) throw new AttemptError(`the title model did not answer within ${timeoutMs} ms`, true);
    throw new AttemptError(`the title model could not be reached (${e instanceof Error ? e.name : 'error'})`, true);
  } finally {
    stopTimer.abort();
    call.catch(() => {});
  }
}

/** The title for `message`: the message itself when short, else the model's, else the truncation. */
export async function generateTitle(
  message: string,
  model: TitleModel | null,
  config: Pick<TitleConfig, 'enabled' | 'shortMessageThreshold' | 'timeoutMs' | 'maxRetries' | 'backoffMs'>,
  deps: { clock?: Clock; fetch?: typeof fetch } = {},
): Promise<TitleResult> {
  const clock = deps.clock ?? realClock;
  const f = deps.fetch ?? fetch;
  const folded = message.replace(/\s+/g, ' ').trim();
  if (folded.length <= Math.min(config.shortMessageThreshold, TITLE_MAX_LENGTH)) {
    return { title: truncateTitle(folded), source: 'message', attempts: 0 };
  }
  const fallback = (reason: string, attempts: number): TitleResult => ({
    title: truncateTitle(message),
    source: 'truncation',
    attempts,
    reason,
  });
  if (!config.enabled) return fallback('title generation is turned off (TASK_TITLE_GENERATION_ENABLED)', 0);
  if (!model) return fallback('no model is configured for titles and the owner has no model key', 0);

  let last = '';
  for (let i = 0; i <= config.maxRetries; i++) {
    if (i > 0) await clock.sleep(config.backoffMs * 4 ** (i - 1));
    try {
      const title = await attempt(model, message, config.timeoutMs, clock, f);
      if (title) return { title, source: 'model', attempts: i + 1 };
      last = 'the title model answered with no text';
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
      if (e instanceof AttemptError && !e.retryable) return fallback(last, i + 1);
    }
  }
  return fallback(last, config.maxRetries + 1);
}
