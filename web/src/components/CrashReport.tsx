/**
 * A crash report in the chat: what happened to the agent (recovered or not, when, who died),
 * what to do next, why recovery failed, and the agent's redacted stderr tail — with a button that
 * copies the whole report as text (for an issue or a support request).
 */
import { createSignal, Show } from 'solid-js';
import type { CrashReport as Report } from '../../../functions/_shared/common/contracts/messages.ts';

const ATTRIBUTION_WORDS: Record<Report['attribution'], string> = {
  agent_process: 'the agent process',
  workspace_runner: 'the workspace runner (vm-agent)',
};

/** The report as plain text, the way the copy button puts it on the clipboard. */
export function crashReportAsText(report: Report): string {
  return [
    `Agent crash report (${report.recovered ? 'recovered' : 'not recovered'})`,
    `Agent: ${report.agentType}`,
    `Time: ${report.occurredAt}`,
    `Stopped: ${ATTRIBUTION_WORDS[report.attribution]}`,
    `What happened: ${report.message}`,
    `Suggestion: ${report.suggestion}`,
    ...(report.recoveryError ? [`Recovery error: ${report.recoveryError}`] : []),
    `Stderr${report.stderrTruncated ? ' (last part only)' : ''}:`,
    report.stderr || '(empty)',
  ].join('\n');
}

export function CrashReport(props: { report: Report }) {
  const [copied, setCopied] = createSignal<'idle' | 'copied' | 'failed'>('idle');
  const r = () => props.report;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(crashReportAsText(r()));
      setCopied('copied');
    } catch {
      setCopied('failed');
    }
  };
  return (
    <section
      class={`crash-report ${r().recovered ? 'crash-recovered' : 'crash-failed'}`}
      aria-label="Agent crash report"
      data-recovered={String(r().recovered)}
    >
      <header>
        <strong>
          {r().recovered ? 'The agent crashed and was recovered' : 'The agent crashed and could not be recovered'}
        </strong>
        <button type="button" class="crash-copy" onClick={() => void copy()}>
          {copied() === 'copied' ? 'Copied' : copied() === 'failed' ? 'Copy failed' : 'Copy report'}
        </button>
      </header>
      <dl>
        <dt>Agent</dt>
        <dd>{r().agentType}</dd>
        <dt>Time</dt>
        <dd>
          <time datetime={r().occurredAt}>{new Date(r().occurredAt).toLocaleString()}</time>
        </dd>
        <dt>Stopped</dt>
        <dd>{ATTRIBUTION_WORDS[r().attribution]}</dd>
        <dt>What happened</dt>
        <dd>{r().message}</dd>
        <dt>Suggestion</dt>
        <dd>{r().suggestion}</dd>
        <Show when={r().recoveryError}>
          <dt>Recovery error</dt>
          <dd>{r().recoveryError}</dd>
        </Show>
      </dl>
      <details>
        <summary>Agent stderr{r().stderrTruncated ? ' (last part only)' : ''}</summary>
        <pre class="crash-stderr">{r().stderr || '(empty)'}</pre>
      </details>
    </section>
  );
}
