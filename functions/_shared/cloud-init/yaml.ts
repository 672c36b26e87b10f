/**
 * A small YAML writer for cloud-config: mappings, sequences, booleans, integers and strings. Every
 * string is written as a double-quoted scalar (JSON string syntax is valid YAML), so no value can
 * end a block, start a comment, or change the indentation of what follows: multi-line file
 * contents travel as `\n` escapes instead of `|` blocks whose every line must be indented.
 */
export type YamlValue = string | number | boolean | YamlValue[] | { [key: string]: YamlValue };

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

function scalar(value: string | number | boolean): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error('only integers are written to cloud-config');
    return String(value);
  }
  return value ? 'true' : 'false';
}

function key(name: string): string {
  return PLAIN_KEY.test(name) ? name : JSON.stringify(name);
}

function isScalar(value: YamlValue): value is string | number | boolean {
  return typeof value !== 'object';
}

function lines(value: YamlValue, indent: string): string[] {
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${indent}[]`];
    const out: string[] = [];
    for (const item of value) {
      if (isScalar(item)) {
        out.push(`${indent}- ${scalar(item)}`);
        continue;
      }
      const inner = lines(item, `${indent}  `);
      // The first line of the item goes after the dash, the rest stay at the item's indentation.
      out.push(`${indent}- ${inner[0]!.slice(indent.length + 2)}`, ...inner.slice(1));
    }
    return out;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return [`${indent}{}`];
    const out: string[] = [];
    for (const [k, v] of entries) {
      if (isScalar(v)) out.push(`${indent}${key(k)}: ${scalar(v)}`);
      else if (Array.isArray(v) && v.length === 0) out.push(`${indent}${key(k)}: []`);
      else out.push(`${indent}${key(k)}:`, ...lines(v, `${indent}  `));
    }
    return out;
  }
  return [`${indent}${scalar(value)}`];
}

/** The YAML document for a mapping, ending with a newline. */
export function toYaml(value: { [key: string]: YamlValue }): string {
  return `${lines(value, '').join('\n')}\n`;
}
