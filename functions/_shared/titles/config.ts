/**
 * Title settings, named as upstream names them (`TASK_TITLE_*`), read from the orchestrator's
 * environment (hosted: `supabase secrets set`). A platform model is optional: without
 * `TASK_TITLE_API_KEY` the task owner's own Anthropic or OpenAI credential is used, and without
 * either the truncated title stays.
 */
export type TitleApi = 'openai' | 'anthropic';

export interface TitleModel {
  api: TitleApi;
  /** e.g. https://api.openai.com/v1 (OpenAI-compatible) or https://api.anthropic.com */
  baseUrl: string;
  model: string;
  apiKey: string;
}

export interface TitleConfig {
  /** `TASK_TITLE_GENERATION_ENABLED` (default true). */
  enabled: boolean;
  /** `TASK_TITLE_SHORT_MESSAGE_THRESHOLD`: messages this short are the title as they are (100). */
  shortMessageThreshold: number;
  /** `TASK_TITLE_TIMEOUT_MS`: one attempt's limit (5000). */
  timeoutMs: number;
  /** `TASK_TITLE_MAX_RETRIES`: retries after the first attempt (2). */
  maxRetries: number;
  /** `TASK_TITLE_BACKOFF_MS`: the first retry's wait, ×4 per retry (1000 → 4000). */
  backoffMs: number;
  /** `TASK_TITLE_MODEL` / `_API` / `_BASE_URL` / `_API_KEY`: the platform's model, if any. */
  platform: TitleModel | null;
  /** Models used with a user's own credential, per API (`TASK_TITLE_MODEL_OPENAI` / `_ANTHROPIC`). */
  userModels: Record<TitleApi, string>;
}

export const TITLE_MAX_LENGTH = 100;

const DEFAULT_BASE: Record<TitleApi, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
};

function int(value: string | undefined, fallback: number, min: number, max: number): number {
  const n = value === undefined || value.trim() === '' ? NaN : Number(value);
  return Number.isInteger(n) && n >= min && n <= max ? n : fallback;
}

export function titleConfigFrom(env: (name: string) => string | undefined): TitleConfig {
  const api: TitleApi = env('TASK_TITLE_API') === 'anthropic' ? 'anthropic' : 'openai';
  const apiKey = env('TASK_TITLE_API_KEY');
  const userModels: Record<TitleApi, string> = {
    openai: env('TASK_TITLE_MODEL_OPENAI') || 'gpt-4.1-mini',
    anthropic: env('TASK_TITLE_MODEL_ANTHROPIC') || 'claude-haiku-4-5',
  };
  return {
    enabled: !/^(false|0|no|off)$/i.test(env('TASK_TITLE_GENERATION_ENABLED') ?? ''),
    shortMessageThreshold: int(env('TASK_TITLE_SHORT_MESSAGE_THRESHOLD'), TITLE_MAX_LENGTH, 1, 10_000),
    timeoutMs: int(env('TASK_TITLE_TIMEOUT_MS'), 5000, 100, 60_000),
    maxRetries: int(env('TASK_TITLE_MAX_RETRIES'), 2, 0, 5),
    backoffMs: int(env('TASK_TITLE_BACKOFF_MS'), 1000, 0, 60_000),
    platform: apiKey
      ? {
          api,
          baseUrl: (env('TASK_TITLE_BASE_URL') || DEFAULT_BASE[api]).replace(/\/+$/, ''),
          model: env('TASK_TITLE_MODEL') || userModels[api],
          apiKey,
        }
      : null,
    userModels,
  };
}

/** The base URL a user's credential talks to: theirs if they set one, else the vendor's. */
export function defaultBaseUrl(api: TitleApi): string {
  return DEFAULT_BASE[api];
}
