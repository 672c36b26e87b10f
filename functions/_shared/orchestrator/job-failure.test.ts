import { describe, expect, it } from 'vitest';
import { GitHubError } from '../github/errors.ts';
import { HttpError } from '../http-error.ts';
import { ProviderError } from '../providers/provider.ts';
import { jobFailure } from './job-failure.ts';

const NOW = 1_800_000_000_000;

describe('jobFailure', () => {
  it('reads a provider error: permanent, or retryable with the API’s wait', () => {
    expect(jobFailure(new ProviderError('hetzner', 'quota reached', false), NOW)).toEqual({
      message: 'quota reached',
      permanent: true,
    });
    expect(jobFailure(new ProviderError('scaleway', 'slow down', true, { retryAfterMs: 7000 }), NOW)).toEqual({
      message: 'slow down',
      permanent: false,
      retryAfterMs: 7000,
    });
  });

  it('reads a GitHub error by kind: permanent, rate limited until its reset, transient', () => {
    expect(jobFailure(new GitHubError(404, 'permanent', 'GitHub refused (404): Not Found'), NOW)).toEqual({
      message: 'GitHub refused (404): Not Found',
      permanent: true,
    });
    expect(jobFailure(new GitHubError(403, 'rate_limited', 'limited', NOW + 90_000), NOW)).toEqual({
      message: 'limited',
      permanent: false,
      retryAfterMs: 90_000,
    });
    expect(jobFailure(new GitHubError(502, 'transient', 'bad gateway'), NOW)).toEqual({
      message: 'bad gateway',
      permanent: false,
    });
  });

  it('honours any error that carries its own verdict', () => {
    const e = Object.assign(new Error('No commits between main and sam/x'), { permanent: true });
    expect(jobFailure(e, NOW)).toEqual({ message: 'No commits between main and sam/x', permanent: true });
  });

  it('retries everything else, shown only by its kind or database code', () => {
    expect(jobFailure(new HttpError(409, 'invalid_state', 'the node is gone'), NOW)).toEqual({
      message: 'the node is gone',
      permanent: false,
    });
    expect(jobFailure(new TypeError('secret-bearing detail'), NOW)).toEqual({
      message: 'internal error (TypeError)',
      permanent: false,
    });
    expect(jobFailure(Object.assign(new Error('deadlock detected'), { code: '40P01' }), NOW).message).toBe(
      'database error 40P01: deadlock detected',
    );
  });
});
