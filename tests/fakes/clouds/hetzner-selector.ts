/**
 * Hetzner's label selector, as the fake evaluates it: `k=v`/`k==v`, `k!=v`, `k` (present), `!k`
 * (absent), `k in (a,b)`, `k notin (a,b)`; terms separated by commas (outside parentheses) are
 * ANDed. Whether `k!=v` matches a server without `k` is not documented: `notEqualMatchesMissing`.
 */
export type Selector = (labels: Record<string, string>) => boolean;

const KEY = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?$/;
const VALUE = /^([A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?)?$/;

function terms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  out.push(current.trim());
  return out;
}

/** Null when the selector is not valid. */
export function parseSelector(selector: string, notEqualMatchesMissing: boolean): Selector | null {
  const checks: Selector[] = [];
  for (const term of terms(selector)) {
    let m: RegExpMatchArray | null;
    if ((m = term.match(/^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/))) {
      const [, key, op, list] = m;
      const values = list!.split(',').map((v) => v.trim());
      if (!KEY.test(key!) || !values.every((v) => VALUE.test(v))) return null;
      checks.push(
        op === 'in' ? (l) => key! in l && values.includes(l[key!]!) : (l) => !(key! in l) || !values.includes(l[key!]!),
      );
    } else if ((m = term.match(/^([^=!\s]+)\s*!=\s*(\S*)$/))) {
      const [, key, value] = m;
      if (!KEY.test(key!) || !VALUE.test(value!)) return null;
      checks.push((l) => (key! in l ? l[key!] !== value : notEqualMatchesMissing));
    } else if ((m = term.match(/^([^=!\s]+)\s*==?\s*(\S*)$/))) {
      const [, key, value] = m;
      if (!KEY.test(key!) || !VALUE.test(value!)) return null;
      checks.push((l) => l[key!] === value);
    } else if ((m = term.match(/^!\s*(\S+)$/))) {
      const key = m[1]!;
      if (!KEY.test(key)) return null;
      checks.push((l) => !(key in l));
    } else if (KEY.test(term)) {
      checks.push((l) => term in l);
    } else return null;
  }
  return (labels) => checks.every((c) => c(labels));
}

export function validLabels(labels: unknown): string[] {
  if (labels === undefined) return [];
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return ['labels must be an object'];
  const problems: string[] = [];
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    const name = k.includes('/') ? k.slice(k.lastIndexOf('/') + 1) : k;
    if (!KEY.test(k) || name.length > 63 || k.startsWith('hetzner.cloud/')) problems.push(`invalid label key ${k}`);
    if (typeof v !== 'string' || v.length > 63 || !VALUE.test(v)) problems.push(`invalid label value for ${k}`);
  }
  return problems;
}
