/**
 * A machine's directory, as the host names and describes it: `<baseDir>/<id>` with an id
 * `lm-<12 hex>`, and `machine.json` holding what the host keeps of the machine (name, labels,
 * creation time) so that a host started again can start it again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Labels } from '../functions/_shared/common/contracts/local-machines.ts';

export const ID = /^lm-[0-9a-f]{12}$/;
/** What the host keeps of a machine (name, labels) for a restart: `<machineDir>/machine.json`. */
export const MACHINE_FILE = 'machine.json';
export interface MachineMeta {
  name: string;
  labels: Labels;
  createdAt: string;
}

export function readMeta(dir: string): MachineMeta | null {
  try {
    const meta = JSON.parse(readFileSync(join(dir, MACHINE_FILE), 'utf8')) as MachineMeta;
    return typeof meta.name === 'string' && meta.labels && typeof meta.createdAt === 'string' ? meta : null;
  } catch {
    return null;
  }
}
