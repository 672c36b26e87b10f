#!/usr/bin/env node
// The entry of `npm start`, `npm test` and `scripts/sam`. It has no dependencies of its own, so it
// can run on a machine that has nothing but Node: it installs what is missing (npm packages,
// Debian packages), says what it is doing, skips what is already done, and then hands over to the
// TypeScript `sam` command.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const command = args[0] ?? 'help';

/** Debian packages each command needs. The browser is only needed by the browser tests. */
const DEBIAN = {
  base: ['postgresql-15', 'postgresql-15-cron', 'postgresql-client-15', 'git'],
  test: ['postgresql-15-pgtap', 'chromium', 'cloud-init'],
};

function step(message) {
  process.stderr.write(`\x1b[36m▸\x1b[0m ${message}\n`);
}

function run(cmd, argv, options = {}) {
  const result = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    process.stderr.write(`\n${cmd} ${argv.join(' ')} failed with exit code ${result.status}\n`);
    process.exit(result.status ?? 1);
  }
}

function ensureNpmPackages() {
  const lock = join(root, 'package-lock.json');
  if (!existsSync(lock)) {
    process.stderr.write('package-lock.json is missing: the install takes its exact versions from it.\n');
    process.exit(1);
  }
  const hash = createHash('sha256')
    .update(readFileSync(join(root, 'package.json')))
    .update(readFileSync(lock))
    .digest('hex');
  const marker = join(root, 'node_modules', '.sam-installed');
  if (existsSync(marker) && readFileSync(marker, 'utf8') === hash) return;
  // `npm ci` installs exactly what package-lock.json says and never writes a tracked file. The
  // lock file holds every platform's optional packages; after a dependency change, regenerate it
  // with `npm install --package-lock-only` (which keeps them all).
  step('Installing npm packages (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error']);
  writeFileSync(marker, hash);
}

function missingDebianPackages(names) {
  return names.filter((name) => {
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
    return r.status !== 0 || !r.stdout.includes('install ok installed');
  });
}

function ensureDebianPackages(names) {
  const missing = missingDebianPackages(names);
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  const sudo = isRoot ? [] : ['sudo', '-n'];
  if (!isRoot && spawnSync('sudo', ['-n', 'true']).status !== 0) {
    process.stderr.write(
      `Missing Debian packages: ${missing.join(' ')}\nInstall them with: sudo apt-get install -y ${missing.join(' ')}\n`,
    );
    process.exit(1);
  }
  step(`Installing Debian packages: ${missing.join(' ')} (apt-get update first)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const [cmd, ...pre] = sudo.length ? sudo : ['apt-get'];
  const aptGet = (...a) => (sudo.length ? run(cmd, [...pre, 'apt-get', ...a], { env }) : run('apt-get', a, { env }));
  aptGet('update', '-q');
  aptGet('install', '-y', '-q', '--no-install-recommends', ...missing);
}

const needsTestPackages = command === 'test' || command === 'check';
if (!['help', '--help', '-h'].includes(command)) {
  ensureDebianPackages(needsTestPackages ? [...DEBIAN.base, ...DEBIAN.test] : DEBIAN.base);
}
ensureNpmPackages();

const tsx = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const result = spawnSync(process.execPath, ['--import', tsx, join(root, 'scripts', 'sam.ts'), ...args], {
  stdio: 'inherit',
  cwd: process.cwd(),
});
process.exit(result.status ?? 1);
