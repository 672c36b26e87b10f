// The generated cloud-config is YAML that a YAML parser reads back to exactly what was meant, passes
// `cloud-init schema` (Debian package cloud-init), fits the user-data limits, and refuses any input
// that could inject YAML or shell.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AGENT_USER,
  BOOTSTRAP_PATH,
  CloudInitInputError,
  generateCloudInit,
  GIT_INSTALL_MARKERS,
  INSTALL_SCRIPT_PATH,
  NODE_INSTALL_MARKERS,
  UNIT_PATH,
  USER_DATA_LIMIT_BYTES,
  type CloudInitInput,
} from '../../functions/_shared/cloud-init/generate.ts';
import { toYaml, type YamlValue } from '../../functions/_shared/cloud-init/yaml.ts';

const INPUT: CloudInitInput = {
  controlPlaneUrl: 'https://abcdefgh.supabase.co/functions/v1/vm-agent',
  bootstrapToken: 'Zq3-_x9VbN2kLmP0qRsTuVwXyZ012345abcdEFGH_-8',
  agentBundleUrl: 'https://abcdefgh.supabase.co/functions/v1/vm-agent/bundle?version=0.1.0',
  agentBundleSha256: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
  nodeId: '0b0e8a9c-1111-4222-8333-444455556666',
};

/** YAML parsed by PyYAML (safe_load), as JSON. */
function parseYaml(text: string) {
  const run = spawnSync(
    'python3',
    ['-c', 'import sys, json, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'],
    {
      input: text,
      encoding: 'utf8',
    },
  );
  if (run.status !== 0) throw new Error(`python3 yaml: ${run.stderr}`);
  return JSON.parse(run.stdout);
}

interface WriteFile {
  path: string;
  content: string;
  owner?: string;
  permissions?: string;
  defer?: boolean;
}

describe('cloud-init generator', () => {
  const doc = generateCloudInit(INPUT);
  const config = parseYaml(doc);
  const file = (p: string) => (config.write_files as WriteFile[]).find((f) => f.path === p)!;

  it('starts with #cloud-config and fits the 32 KiB user-data limit even with the longest inputs', () => {
    expect(doc.split('\n')[0]).toBe('#cloud-config');
    expect(Buffer.byteLength(doc)).toBeLessThan(USER_DATA_LIMIT_BYTES);
    const longest = generateCloudInit({
      ...INPUT,
      bootstrapToken: 'a'.repeat(200),
      controlPlaneUrl: `https://${'h'.repeat(200)}.example/${'p'.repeat(500)}`,
      agentBundleUrl: `https://${'h'.repeat(200)}.example/${'p'.repeat(500)}`,
    });
    expect(Buffer.byteLength(longest)).toBeLessThan(USER_DATA_LIMIT_BYTES);
  });

  it('creates the unprivileged sam-agent user (no sudo) and keeps the distro default', () => {
    expect(config.users[0]).toBe('default');
    const user = config.users[1];
    expect(user).toMatchObject({ name: AGENT_USER, lock_passwd: true });
    expect(user).not.toHaveProperty('sudo');
    expect(user).not.toHaveProperty('groups');
  });

  it('writes the bootstrap file 0600 for sam-agent, deferred until the user exists, with the one-time token', () => {
    const bootstrap = file(BOOTSTRAP_PATH);
    expect(bootstrap).toMatchObject({ owner: `${AGENT_USER}:${AGENT_USER}`, permissions: '0600', defer: true });
    expect(JSON.parse(bootstrap.content)).toEqual({
      controlPlaneUrl: INPUT.controlPlaneUrl,
      bootstrapToken: INPUT.bootstrapToken,
    });
  });

  it('installs a systemd unit running the vm-agent as sam-agent with Restart=always', () => {
    const unit = file(UNIT_PATH).content;
    expect(unit).toContain(`User=${AGENT_USER}\n`);
    expect(unit).toContain('Restart=always\n');
    expect(unit).toContain('StartLimitIntervalSec=0\n');
    expect(unit).toMatch(/^ExecStart=\/usr\/bin\/node \/opt\/sam\/vm-agent\.mjs \/var\/lib\/sam$/m);
    expect(unit).toContain('WantedBy=multi-user.target');
  });

  it('runs one POSIX script that installs Node 22 and git, checks the bundle sha256, and starts the unit', () => {
    expect(config.packages).toEqual(expect.arrayContaining(['git', 'curl']));
    expect(config.runcmd).toEqual([['sh', INSTALL_SCRIPT_PATH]]);
    const script = file(INSTALL_SCRIPT_PATH);
    expect(script.permissions).toBe('0700');
    const lines = script.content.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      '#!/bin/sh',
      '# Installs and starts the SAM vm-agent; written by cloud-init, run once by runcmd.',
      'set -eu',
    ]);
    expect(script.content).toContain('https://deb.nodesource.com/node_${NODE_MAJOR}.x nodistro main');
    expect(script.content).toContain(`BUNDLE_URL='${INPUT.agentBundleUrl}'`);
    expect(script.content).toContain(`BUNDLE_SHA256='${INPUT.agentBundleSha256}'`);
    const verify = lines.findIndex((l) => l.includes('sha256sum -c -'));
    const install = lines.findIndex((l) => l.startsWith('mv "$BUNDLE.part" "$BUNDLE"'));
    const start = lines.findIndex((l) => l === 'systemctl enable --now sam-vm-agent.service');
    expect(verify).toBeGreaterThan(0);
    expect(install).toBeGreaterThan(verify);
    expect(start).toBeGreaterThan(install);
    // dash (the /bin/sh cloud-init uses) accepts the script's syntax.
    const syntax = spawnSync('dash', ['-n'], { input: script.content, encoding: 'utf8' });
    expect(syntax.stderr).toBe('');
    expect(syntax.status).toBe(0);
  });

  it('keeps every step that needs the internet for Node and git between markers (what the boot test substitutes)', () => {
    const lines = file(INSTALL_SCRIPT_PATH).content.split('\n');
    const block = ([begin, end]: readonly [string, string]) => {
      const from = lines.indexOf(begin);
      const to = lines.indexOf(end);
      expect(from, begin).toBeGreaterThan(0);
      expect(to, end).toBeGreaterThan(from);
      return { from, to, text: lines.slice(from, to + 1).join('\n') };
    };
    const node = block(NODE_INSTALL_MARKERS);
    const git = block(GIT_INSTALL_MARKERS);
    expect(node.text).toContain('deb.nodesource.com/node_${NODE_MAJOR}.x');
    expect(node.text).toContain('apt-get install -y nodejs');
    expect(git.text).toContain('apt-get install -y git');
    const outside = lines.filter((_, i) => !(i >= node.from && i <= node.to) && !(i >= git.from && i <= git.to));
    expect(outside.filter((l) => /apt-get|nodesource|gpg/.test(l))).toEqual([]);
  });

  it('passes `cloud-init schema` (Debian package cloud-init)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sam-cloud-init-'));
    try {
      const f = path.join(dir, 'user-data.yaml');
      writeFileSync(f, doc);
      const run = spawnSync('cloud-init', ['schema', '--config-file', f], { encoding: 'utf8' });
      expect(run.error, 'cloud-init is not installed (Debian package cloud-init)').toBeUndefined();
      expect(`${run.stdout}${run.stderr}`).toContain('Valid cloud-config');
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses inputs that could inject YAML or shell', () => {
    const bad: Partial<CloudInitInput>[] = [
      { bootstrapToken: 'abcdefghijklmnop\nruncmd: [reboot]' },
      { bootstrapToken: 'abcdefghijklmnop"quoted"' },
      { bootstrapToken: "abcdefghijklmnop'single'" },
      { bootstrapToken: 'short' },
      { controlPlaneUrl: 'https://example.com/a b' },
      { controlPlaneUrl: "https://example.com/'$(reboot)'" },
      { controlPlaneUrl: 'https://example.com/\n- evil' },
      { controlPlaneUrl: 'file:///etc/passwd' },
      { agentBundleUrl: 'https://example.com/x;reboot' },
      { agentBundleUrl: 'https://example.com/x`id`' },
      { agentBundleSha256: 'ABCDEF'.repeat(10) + 'abcd' },
      { agentBundleSha256: 'a'.repeat(63) },
      { nodeId: '../../etc' },
    ];
    for (const patch of bad) {
      expect(() => generateCloudInit({ ...INPUT, ...patch }), JSON.stringify(patch)).toThrow(CloudInitInputError);
    }
  });
});

describe('cloud-config YAML writer', () => {
  it('round-trips many-line values with quotes, colons, comments, indentation and unicode', () => {
    const many = Array.from(
      { length: 25 },
      (_, i) => `${' '.repeat(i % 4)}line ${i}: "q" 'a' # not a comment – ü ${'\\'}`,
    ).join('\n');
    const value: { [key: string]: YamlValue } = {
      plain: 'yes',
      number_like: '0600',
      multi: `${many}\n`,
      nested: [{ a: ['x', ['y', 'z']], b: true, c: 3 }, '- dash', '', { 'key with space': 'v' }],
      empty_list: [],
      empty_map: {},
    };
    expect(parseYaml(toYaml(value))).toEqual(value);
  });
});
