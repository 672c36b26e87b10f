import { describe, expect, it } from 'vitest';
import { MAX_CRASH_STDERR_BYTES } from '../../functions/_shared/common/contracts/messages.ts';
import { AgentExitedError, buildCrashReport, isCrashLike, redactSecrets, stderrTail } from './crash.ts';

describe('isCrashLike', () => {
  it.each([
    new Error('ACP connection closed'),
    new Error('write EPIPE'),
    new Error('read ECONNRESET'),
    new Error('unexpected EOF'),
    new Error('peer disconnected'),
    new Error('broken pipe'),
    new AgentExitedError('signal SIGKILL'),
    Object.assign(new Error('x'), { code: 'EPIPE' }),
  ])('calls %s a crash', (error) => {
    expect(isCrashLike(error)).toBe(true);
  });

  it('calls an answer of the agent (a JSON-RPC error) or an ordinary error no crash', () => {
    expect(isCrashLike({ code: -32603, message: 'Internal error: EOF in model output' })).toBe(false);
    expect(isCrashLike(new Error('rate limited'))).toBe(false);
    expect(isCrashLike(new Error('rate limited'), true)).toBe(true);
  });
});

describe('redactSecrets', () => {
  it('removes given values and credential-shaped strings', () => {
    const text = [
      'key my-stored-value-123',
      'Bearer abcdefghijklmnop',
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl',
      'sk-ant-api03-abcdefghijkl',
      'ghs_abcdefghijklmnop ghp_abcdefghijkl gho_abcdefghijkl',
      'github_pat_11ABCDEFGH_ijkl',
      'https://user:pass@example.com/x',
      'API_KEY=plainvalue "token": "quoted-value" password: pw123456',
    ].join('\n');
    const out = redactSecrets(text, ['my-stored-value-123']);
    for (const gone of [
      'my-stored-value-123',
      'abcdefghijklmnop',
      'eyJhbGciOiJIUzI1NiJ9',
      'sk-ant',
      'ghs_',
      'ghp_',
      'gho_',
      'github_pat_',
      'user:pass',
      'plainvalue',
      'quoted-value',
      'pw123456',
    ]) {
      expect(out).not.toContain(gone);
    }
    expect(out).toContain('https://[REDACTED]@example.com/x');
  });
});

describe('stderrTail', () => {
  it('keeps the last bytes from a line start and says it cut', () => {
    const line = (i: number) => `line ${i} ${'x'.repeat(60)}\n`;
    const long = Array.from({ length: 200 }, (_, i) => line(i)).join('');
    const tail = stderrTail(long, []);
    expect(tail.truncated).toBe(true);
    expect(Buffer.byteLength(tail.stderr)).toBeLessThanOrEqual(MAX_CRASH_STDERR_BYTES);
    expect(tail.stderr.startsWith('line ')).toBe(true);
    expect(tail.stderr.endsWith(line(199))).toBe(true);
  });

  it('never shows the tail half of a secret cut by the window', () => {
    const secret = 'S3CRET-' + 'z'.repeat(40);
    const text = 'a'.repeat(MAX_CRASH_STDERR_BYTES - 20) + secret + '\nend\n';
    expect(stderrTail(text, [secret]).stderr).not.toContain('zzzzzzzz');
  });
});

it('builds a valid report without secrets', () => {
  const report = buildCrashReport({
    agentType: 'claude-code',
    recovered: false,
    attribution: 'agent_process',
    cause: new Error('ACP connection closed (token tok-123456789)'),
    recoveryError: new Error('Session not found: tok-123456789'),
    stderr: 'boom tok-123456789',
    secrets: ['tok-123456789'],
  });
  expect(JSON.stringify(report)).not.toContain('tok-123456789');
  expect(report.recoveryError).toContain('Session not found');
  expect(report.suggestion).toMatch(/could not be loaded/);
});

it("says what an ACP error's data says, not only its code's message, redacted", () => {
  // What claude-code-acp answers to session/load of a session it saved nothing of.
  const acpError = Object.assign(new Error('Internal error'), {
    code: -32603,
    data: { details: 'Query closed before response received (key sk-ant-api03-abcdefghijk)' },
  });
  const report = buildCrashReport({
    agentType: 'claude-code',
    recovered: false,
    attribution: 'agent_process',
    cause: new Error('ACP connection closed'),
    recoveryError: acpError,
    stderr: '',
    secrets: [],
  });
  expect(report.recoveryError).toBe('Internal error: Query closed before response received (key [REDACTED])');
});
