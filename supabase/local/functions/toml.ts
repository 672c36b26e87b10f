/**
 * A reader for the subset of TOML that supabase/config.toml uses: `[table]` and `[dotted.table]`
 * headers (bare or quoted keys), `key = value` lines with strings (basic and literal), integers,
 * floats, booleans, and single-line arrays of those, plus `#` comments. Anything else is refused
 * with the line number, so a config the stand-in cannot read fails loudly instead of silently.
 */
export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

export class TomlError extends Error {}

export function parseToml(text: string): TomlTable {
  const root: TomlTable = {};
  let current = root;
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const fail = (why: string): never => {
      throw new TomlError(`line ${index + 1}: ${why}: ${raw.trim()}`);
    };
    const line = stripComment(raw).trim();
    if (line === '') return;
    if (line.startsWith('[')) {
      if (line.startsWith('[[')) fail('arrays of tables are not supported');
      if (!line.endsWith(']')) fail('unterminated table header');
      current = root;
      for (const key of splitKey(line.slice(1, -1), fail)) {
        const next = current[key] ?? (current[key] = {});
        if (typeof next !== 'object' || Array.isArray(next)) fail(`${key} is not a table`);
        current = next as TomlTable;
      }
      return;
    }
    const eq = findEquals(line);
    if (eq < 0) fail('expected key = value');
    const keys = splitKey(line.slice(0, eq), fail);
    let table = current;
    for (const key of keys.slice(0, -1)) {
      const next = table[key] ?? (table[key] = {});
      if (typeof next !== 'object' || Array.isArray(next)) fail(`${key} is not a table`);
      table = next as TomlTable;
    }
    const [value, rest] = parseValue(line.slice(eq + 1).trim(), fail);
    if (rest.trim() !== '') fail('unexpected text after the value');
    table[keys[keys.length - 1]!] = value;
  });
  return root;
}

/** Removes a trailing `#` comment that is not inside a string. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === '\\' && quote === '"') i++;
      else if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#') return line.slice(0, i);
  }
  return line;
}

function findEquals(line: string): number {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '=') return i;
  }
  return -1;
}

function splitKey(text: string, fail: (why: string) => never): string[] {
  const keys: string[] = [];
  let rest = text.trim();
  while (rest !== '') {
    let key: string;
    if (rest.startsWith('"') || rest.startsWith("'")) {
      const [value, after] = parseString(rest, fail);
      key = value;
      rest = after.trim();
    } else {
      const m = /^[A-Za-z0-9_-]+/.exec(rest);
      if (!m) fail('invalid key');
      key = m![0];
      rest = rest.slice(key.length).trim();
    }
    keys.push(key);
    if (rest === '') break;
    if (!rest.startsWith('.')) fail('invalid key');
    rest = rest.slice(1).trim();
  }
  if (keys.length === 0) fail('empty key');
  return keys;
}

function parseValue(text: string, fail: (why: string) => never): [TomlValue, string] {
  if (text.startsWith('"') || text.startsWith("'")) return parseString(text, fail);
  if (text.startsWith('[')) {
    const items: TomlValue[] = [];
    let rest = text.slice(1).trim();
    while (!rest.startsWith(']')) {
      if (rest === '') fail('arrays must be on one line');
      const [item, after] = parseValue(rest, fail);
      items.push(item);
      rest = after.trim();
      if (rest.startsWith(',')) rest = rest.slice(1).trim();
      else if (!rest.startsWith(']')) fail('expected , or ] in array');
    }
    return [items, rest.slice(1)];
  }
  const m = /^[^\s,\]]+/.exec(text);
  if (!m) fail('missing value');
  const word = m![0];
  const rest = text.slice(word.length);
  if (word === 'true') return [true, rest];
  if (word === 'false') return [false, rest];
  const num = word.replace(/_/g, '');
  if (/^[+-]?(\d+|0x[0-9a-f]+|0o[0-7]+|0b[01]+)$/i.test(num)) {
    const sign = num.startsWith('-') ? -1 : 1;
    const digits = num.replace(/^[+-]/, '');
    return [sign * Number(digits), rest];
  }
  if (/^[+-]?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(num)) return [Number(num), rest];
  return fail('unsupported value');
}

const ESCAPES: Record<string, string> = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };

function parseString(text: string, fail: (why: string) => never): [string, string] {
  const quote = text[0]!;
  if (text.startsWith(quote.repeat(3))) fail('multi-line strings are not supported');
  let out = '';
  for (let i = 1; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === quote) return [out, text.slice(i + 1)];
    if (ch === '\\' && quote === '"') {
      const next = text[++i] ?? '';
      if (next === 'u' || next === 'U') {
        const len = next === 'u' ? 4 : 8;
        const hex = text.slice(i + 1, i + 1 + len);
        if (!/^[0-9a-f]+$/i.test(hex) || hex.length !== len) fail('invalid unicode escape');
        out += String.fromCodePoint(parseInt(hex, 16));
        i += len;
      } else if (next in ESCAPES) out += ESCAPES[next];
      else fail('invalid escape');
    } else out += ch;
  }
  return fail('unterminated string');
}
