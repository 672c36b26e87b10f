/**
 * Time to render a 10,000-message session in the built web chat, in a real Chromium against a
 * local stack (Auth, PostgREST, Realtime): a user's task with 10,000 agent messages in its
 * session; the page opens the task, reads the history (`get_session_messages`, 200 a page) and
 * renders it. The clock runs in the page, from the last history page answered before the newest
 * row appeared (a page's response is the last network event; what follows is the app's work) until the newest message's row is in the DOM and a frame has been
 * painted (requestAnimationFrame, then a task). Also: navigation → that paint, and how many rows
 * the DOM held. Target ≤ 300 ms.
 *
 *   npx tsx bench/web-render-10k.ts                          # the working tree
 *   npx tsx bench/web-render-10k.ts --before <rev> --record  # also a git revision, and write
 *                                                            # bench/results/web-render-10k.md
 *
 * Needs the database cluster (`scripts/sam db start`).
 */
import { writeFileSync } from 'node:fs';
import { closeBrowser, launchBrowser } from '../tests/helpers/browser.ts';
import { startTestStack } from '../tests/helpers/local-stack.ts';
import { insertLongSession } from '../tests/helpers/long-session.ts';
import setupTemplate from '../tests/setup/global.ts';
import { serveWebApp } from '../web/serve.ts';
import { arg, buildWebAt, hostLine } from './web-build.ts';

const MESSAGES = Number(arg('messages') ?? 10_000);
const RUNS = Number(arg('runs') ?? 5);
const EMAIL = 'bench-render@example.com';
const PASSWORD = 'correct horse battery';

/** In the page: when the last history page was read, and when the newest row was painted. */
const PROBE = `(lastId) => {
  window.__bench = { historyEnd: 0, painted: 0, rows: 0, reads: [] };
  const fetch0 = window.fetch;
  window.fetch = async (...args) => {
    const res = await fetch0(...args);
    const url = String(args[0] instanceof Request ? args[0].url : args[0]);
    if (url.includes('get_session_messages')) window.__bench.reads.push(performance.now());
    return res;
  };
  new MutationObserver((_, observer) => {
    if (window.__bench.painted || !document.querySelector('ol.messages > li[data-id="' + lastId + '"]')) return;
    observer.disconnect();
    requestAnimationFrame(() => setTimeout(() => {
      const b = window.__bench;
      b.painted = performance.now();
      b.rows = document.querySelectorAll('ol.messages > li').length;
      // The last page answered before the render: what follows is the app's own work.
      b.historyEnd = Math.max(...b.reads.filter((t) => t <= b.painted));
    }, 0));
  }).observe(document, { subtree: true, childList: true });
}`;

interface Run {
  renderMs: number;
  totalMs: number;
  rows: number;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

async function main(): Promise<void> {
  await setupTemplate();
  const stack = await startTestStack({ emailConfirmation: false }, 'bench_render');
  const browser = await launchBrowser();
  const results: { label: string; runs: Run[] }[] = [];
  try {
    const before = arg('before');
    for (const rev of [...(before ? [before] : []), undefined]) {
      const built = await buildWebAt(rev);
      const site = await serveWebApp({ dir: built.dir, supabaseUrl: stack.url, publishableKey: stack.publishableKey });
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      try {
        const page = await context.newPage();
        await page.goto(site.url);
        const first = results.length === 0;
        await page.getByRole('heading', { name: 'Sign in to SAM' }).waitFor();
        if (first) await page.getByRole('button', { name: 'Create an account' }).click();
        await page.getByLabel('Email').fill(EMAIL);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: first ? 'Sign up' : 'Sign in', exact: true }).click();
        await page.getByRole('heading', { name: 'Projects' }).waitFor();
        if (first) {
          await page.getByLabel('Name').fill('talkative');
          await page.getByLabel('Git repository (a local path or a URL)').fill('/srv/git/talkative');
          await page.getByRole('button', { name: 'Create project' }).click();
          await page.getByRole('heading', { name: 'talkative' }).waitFor();
          await page.getByLabel('Message').fill('a long conversation');
          await page.getByRole('button', { name: 'Start task' }).click();
          await page.getByRole('heading', { name: 'a long conversation' }).waitFor();
        }
        const [task] = await stack.db.admin`select id, project_id, chat_session_id from public.tasks`;
        let [last] = await stack.db.admin`
          select max(id)::bigint as id from public.messages where session_id = ${task!.chat_session_id}
             and message_id like 'bulk-%'`;
        if (!last?.id) {
          await insertLongSession(stack.db.admin, task!.chat_session_id as string, MESSAGES);
          [last] = await stack.db.admin`
            select max(id)::bigint as id from public.messages where session_id = ${task!.chat_session_id}`;
        }
        const url = `${site.url}/#/p/${task!.project_id}/t/${task!.id}`;
        const runs: Run[] = [];
        for (let i = 0; i < RUNS; i++) {
          const probe = await context.newPage();
          await probe.addInitScript(`(${PROBE})(${Number(last!.id)})`);
          await probe.goto(url);
          await probe.waitForFunction(
            () => (window as never as { __bench: { painted: number } }).__bench.painted > 0,
            null,
            {
              timeout: 180_000,
            },
          );
          const b = (await probe.evaluate('window.__bench')) as { historyEnd: number; painted: number; rows: number };
          runs.push({ renderMs: b.painted - b.historyEnd, totalMs: b.painted, rows: b.rows });
          await probe.close();
        }
        results.push({ label: built.label, runs });
        console.log(built.label, runs);
      } finally {
        await context.close();
        await site.close();
        built.remove();
      }
    }
  } finally {
    await closeBrowser(browser);
    await stack.close();
  }
  const table = [
    `| build | runs | render p50 ms | render max ms | open → painted p50 ms | rows in the DOM |`,
    '|---|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.label} | ${r.runs.length} | ${median(r.runs.map((x) => x.renderMs)).toFixed(0)} | ${Math.max(...r.runs.map((x) => x.renderMs)).toFixed(0)} | ${median(r.runs.map((x) => x.totalMs)).toFixed(0)} | ${median(r.runs.map((x) => x.rows))} |`,
    ),
  ].join('\n');
  console.log(table);
  if (process.argv.includes('--record')) {
    writeFileSync(
      new URL('./results/web-render-10k.md', import.meta.url),
      [
        `# Rendering a ${MESSAGES.toLocaleString('en')}-message session in the web chat`,
        '',
        `Recorded ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${hostLine()}; Chromium headless, 1280×900.`,
        '',
        'Rerun: `npx tsx bench/web-render-10k.ts --record --before <rev>` (cluster running). Render = the last history page answered before the newest row appeared → the newest row in the DOM and a frame painted; open → painted counts from navigation (sign-in kept), including reading 10,000 rows through PostgREST 200 at a time. Target: render ≤ 300 ms.',
        '',
        table,
        '',
      ].join('\n'),
    );
  }
}

await main();
process.exit(0);
