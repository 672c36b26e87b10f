/** What the CLI prints: lines for people, or one JSON document per command with `--json`. */
import type { ChatMessage } from '../functions/_shared/common/contracts/messages.ts';

export interface Out {
  json: boolean;
  line(text?: string): void;
  /** Text as it is, no line end: a streamed message goes on where it stopped. */
  write(text: string): void;
  data(value: unknown): void;
  err(text: string): void;
}

export function terminal(json: boolean, write = (s: string) => process.stdout.write(s)): Out {
  return {
    json,
    line: (text = '') => write(text + '\n'),
    write,
    data: (value) => write(JSON.stringify(value) + '\n'),
    err: (text) => process.stderr.write(text + '\n'),
  };
}

/** Rows as aligned columns (the last one is left ragged). */
export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  '))
    .join('\n');
}

const indent = (text: string, prefix: string) =>
  text
    .split('\n')
    .map((l, i) => (i === 0 ? l : prefix + l))
    .join('\n');

/** More of a streamed message or thought whose line `messageLine` began (see `continuesChunk`). */
export function continuedText(m: ChatMessage): string {
  return m.role === 'thought' ? indent(m.content, '  ') : m.content;
}

/** One chat message as a terminal line: what the agent said, thought, planned and which tools it ran. */
export function messageLine(m: ChatMessage): string {
  switch (m.role) {
    case 'user':
      return `› ${indent(m.content, '  ')}`;
    case 'assistant':
      return indent(m.content, '');
    case 'thought':
      return `… ${indent(m.content, '  ')}`;
    case 'tool':
      return `⚙ ${m.content}${m.toolStatus ? ` [${m.toolStatus}]` : ''}`;
    case 'plan':
      return `☐ plan: ${indent(m.content, '  ')}`;
    default:
      return `· ${indent(m.content, '  ')}`;
  }
}
