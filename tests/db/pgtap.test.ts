import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { paths } from '../../supabase/local/paths.ts';
import { rolePassword, SUPERUSER } from '../../supabase/local/postgres/cluster.ts';
import { createTestDatabase } from '../helpers/test-database.ts';
import { runCommand } from '../helpers/processes.ts';

/** Runs every pgTAP suite in supabase/tests, each in its own database cloned from the template. */
const suites = readdirSync(paths.pgtap)
  .filter((f) => f.endsWith('.sql'))
  .sort();
const totals = { files: 0, assertions: 0 };

interface TapResult {
  planned: number | null;
  passed: number;
  failures: string[];
}

function parseTap(output: string): TapResult {
  let planned: number | null = null;
  let passed = 0;
  const failures: string[] = [];
  const lines = output.split('\n');
  lines.forEach((line, i) => {
    const plan = /^\s*1\.\.(\d+)/.exec(line);
    if (plan) planned = Number(plan[1]);
    else if (/^\s*ok \d+/.test(line)) passed++;
    else if (/^\s*not ok \d+/.test(line)) {
      const diag = lines
        .slice(i + 1)
        .filter((l, j, all) => /^\s*#/.test(l) && all.slice(0, j).every((p) => /^\s*#/.test(p)));
      failures.push([line.trim(), ...diag.map((d) => d.trim())].join('\n'));
    }
  });
  return { planned, passed, failures };
}

describe('pgTAP suites (supabase/tests)', () => {
  it.each(suites)('%s', async (file) => {
    const db = await createTestDatabase(file.replace(/\.sql$/, ''));
    try {
      const r = await runCommand(
        'psql',
        [
          '-h',
          db.cluster.host,
          '-p',
          String(db.cluster.port),
          '-U',
          SUPERUSER,
          '-d',
          db.name,
          '-X',
          '-q',
          '-t',
          '-A',
          '-v',
          'ON_ERROR_STOP=1',
          '-f',
          join(paths.pgtap, file),
        ],
        { env: { ...process.env, PGPASSWORD: rolePassword(SUPERUSER) } },
      );
      const tap = parseTap(r.stdout);
      expect(
        r.stderr.split('\n').filter((l) => /ERROR|FATAL/.test(l)),
        'psql errors',
      ).toEqual([]);
      expect(tap.failures, 'failed assertions').toEqual([]);
      expect(tap.planned, 'a plan').not.toBeNull();
      expect(tap.passed).toBe(tap.planned);
      // What a suite says of itself with diag() (e.g. the RLS matrix's number of cases).
      const notes = r.stdout.split('\n').filter((l) => /^\s*# /.test(l));
      if (notes.length > 0) console.log(`${file}:\n${notes.join('\n')}`);
      totals.files++;
      totals.assertions += tap.passed;
    } finally {
      await db.drop();
    }
  });

  afterAll(() => {
    console.log(`pgTAP: ${totals.assertions} assertions passed in ${totals.files} of ${suites.length} suites`);
  });
});
