/**
 * How much the web chat's first load fetches, gzipped: `vite build web`, then what index.html
 * loads before anything is clicked — the page itself, its module script, the chunks it
 * preloads (`modulepreload`: the entry's static imports) and its stylesheets. Chunks loaded later
 * (a route's dynamic import) are listed apart. Gzip at level 9, as a static server would
 * pre-compress; the target is ≤ 100 KB gzipped for the first load.
 *
 *   npx tsx bench/web-bundle-size.ts                    # the working tree
 *   npx tsx bench/web-bundle-size.ts --rev main         # a git revision (before/after)
 *   npx tsx bench/web-bundle-size.ts --record [--before <rev>]   # also write bench/results/web-bundle-size.md
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { arg, buildWebAt, hostLine } from './web-build.ts';

const TARGET_GZ = 100 * 1024;

interface Asset {
  file: string;
  bytes: number;
  gz: number;
}

interface Measure {
  label: string;
  firstLoad: Asset[];
  later: Asset[];
  firstGz: number;
  firstBytes: number;
}

function sizeOf(dir: string, file: string): Asset {
  const body = readFileSync(join(dir, file));
  return { file, bytes: body.byteLength, gz: gzipSync(body, { level: 9 }).byteLength };
}

/** The files index.html makes the browser fetch at once. */
function firstLoadFiles(html: string): string[] {
  const files = new Set<string>(['index.html']);
  const attr = /<(?:script|link)\b[^>]*\b(?:src|href)="\/([^"]+)"[^>]*>/g;
  for (const m of html.matchAll(attr)) {
    const tag = m[0];
    if (/type="module"|rel="modulepreload"|rel="stylesheet"/.test(tag)) files.add(m[1]!);
  }
  return [...files];
}

async function measure(rev?: string): Promise<Measure> {
  const built = await buildWebAt(rev);
  try {
    const html = readFileSync(join(built.dir, 'index.html'), 'utf8');
    const first = firstLoadFiles(html);
    const all = readdirSync(join(built.dir, 'assets'))
      .map((f) => `assets/${f}`)
      .filter((f) => statSync(join(built.dir, f)).isFile());
    const firstLoad = first.map((f) => sizeOf(built.dir, f));
    const later = all.filter((f) => !first.includes(f)).map((f) => sizeOf(built.dir, f));
    return {
      label: built.label,
      firstLoad,
      later,
      firstGz: firstLoad.reduce((s, a) => s + a.gz, 0),
      firstBytes: firstLoad.reduce((s, a) => s + a.bytes, 0),
    };
  } finally {
    built.remove();
  }
}

const kb = (n: number) => (n / 1024).toFixed(1);

function report(m: Measure): string {
  const rows = [
    `### ${m.label}: first load ${kb(m.firstGz)} KB gzipped (${kb(m.firstBytes)} KB raw) — ${m.firstGz <= TARGET_GZ ? 'within' : 'OVER'} the 100 KB target`,
    '',
    '| file | loaded | raw KB | gzip KB |',
    '|---|---|---:|---:|',
    ...m.firstLoad.map(
      (a) => `| \`${a.file.replace(/-[\w-]{8}\./, '-*.')}\` | first load | ${kb(a.bytes)} | ${kb(a.gz)} |`,
    ),
    ...m.later.map(
      (a) => `| \`${a.file.replace(/-[\w-]{8}\./, '-*.')}\` | later (dynamic import) | ${kb(a.bytes)} | ${kb(a.gz)} |`,
    ),
  ];
  return rows.join('\n');
}

const before = arg('before');
const results = [...(before ? [await measure(before)] : []), await measure(arg('rev'))];
const text = results.map(report).join('\n\n');
console.log(text);
if (process.argv.includes('--record')) {
  const out = [
    '# Web chat bundle size (first load, gzipped)',
    '',
    `Recorded ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${hostLine()}. Sizes do not depend on the load.`,
    '',
    'Rerun: `npx tsx bench/web-bundle-size.ts --record --before <rev>`. First load = `index.html`, its module script, the chunks it preloads and its stylesheets; gzip level 9.',
    '',
    text,
    '',
  ].join('\n');
  writeFileSync(new URL('./results/web-bundle-size.md', import.meta.url), out);
}
