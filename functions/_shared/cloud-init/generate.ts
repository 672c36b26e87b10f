/**
 * The `#cloud-config` a cloud machine boots with. It
 *   - creates the unprivileged user `sam-agent` (no sudo, password locked),
 *   - installs git and curl from the distribution, and Node.js 22 from NodeSource's apt repository
 *     (`deb.nodesource.com/node_22.x`, skipped when a Node ≥ 22 is already there),
 *   - downloads the vm-agent bundle from the control plane and checks its sha256 before using it,
 *   - writes `<machine dir>/bootstrap.json` (0600, owned by sam-agent) with the one-time token,
 *   - installs a systemd unit that runs the vm-agent as sam-agent with `Restart=always`, and starts it.
 * The machine directory is where the vm-agent reads bootstrap.json, rewrites it after registering,
 * and keeps its workspaces (`vm-agent/node/bootstrap-file.ts`), so it is `/var/lib/sam`.
 *
 * The steps run from one `#!/bin/sh` script with `set -eu` (written by write_files, run by runcmd):
 * runcmd alone never stops at a failing line, and an agent started from an unverified download is
 * worse than none. Every input is checked against a strict pattern before it is placed anywhere, and
 * the YAML is written by `./yaml.ts` (every string double-quoted), so nothing can inject YAML or shell.
 */
import { toYaml } from './yaml.ts';

export interface CloudInitInput {
  /** Where the vm-agent registers (the vm-agent edge function). */
  controlPlaneUrl: string;
  /** One-time, short-lived registration token (`issue_bootstrap_token`: base64url). */
  bootstrapToken: string;
  /** The vm-agent bundle the control plane serves (one self-contained file). */
  agentBundleUrl: string;
  /** Its sha256, lowercase hex. */
  agentBundleSha256: string;
  nodeId: string;
}

export const AGENT_USER = 'sam-agent';
export const MACHINE_DIR = '/var/lib/sam';
export const BOOTSTRAP_PATH = `${MACHINE_DIR}/bootstrap.json`;
export const AGENT_BUNDLE_PATH = '/opt/sam/vm-agent.mjs';
export const INSTALL_SCRIPT_PATH = '/usr/local/lib/sam/install-vm-agent.sh';
export const UNIT_NAME = 'sam-vm-agent.service';
export const UNIT_PATH = `/etc/systemd/system/${UNIT_NAME}`;
export const NODE_MAJOR = 22;
/**
 * Comment lines around the steps that need the internet to install Node and git, so a test that
 * runs the script on a machine without it can replace exactly those (tests/helpers/cloud-boot.ts).
 */
export const NODE_INSTALL_MARKERS = ['# sam: node install begin', '# sam: node install end'] as const;
export const GIT_INSTALL_MARKERS = ['# sam: git install begin', '# sam: git install end'] as const;
/** Hetzner's user-data limit; Scaleway documents none, so the same cap applies to both. */
export const USER_DATA_LIMIT_BYTES = 32 * 1024;

/** A URL with nothing a shell or YAML could read specially: no quotes, spaces, `$`, backslashes. */
const SAFE_URL = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~%/+-]*)?(\?[A-Za-z0-9._~%=&+-]*)?$/;
const TOKEN = /^[A-Za-z0-9_-]{16,200}$/;
const SHA256 = /^[0-9a-f]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class CloudInitInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CloudInitInputError';
  }
}

function check(name: string, value: unknown, pattern: RegExp, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new CloudInitInputError(`cloud-init: ${name} must be ${what}`);
  }
  return value;
}

export function validateCloudInitInput(input: CloudInitInput): CloudInitInput {
  return {
    controlPlaneUrl: check('controlPlaneUrl', input.controlPlaneUrl, SAFE_URL, 'a plain http(s) URL'),
    bootstrapToken: check('bootstrapToken', input.bootstrapToken, TOKEN, '16–200 base64url characters'),
    agentBundleUrl: check('agentBundleUrl', input.agentBundleUrl, SAFE_URL, 'a plain http(s) URL'),
    agentBundleSha256: check('agentBundleSha256', input.agentBundleSha256, SHA256, '64 lowercase hex digits'),
    nodeId: check('nodeId', input.nodeId, UUID, 'a lowercase UUID'),
  };
}

function unit(): string {
  return [
    '[Unit]',
    'Description=SAM vm-agent',
    'Wants=network-online.target',
    'After=network-online.target',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=simple',
    `User=${AGENT_USER}`,
    `Group=${AGENT_USER}`,
    `WorkingDirectory=${MACHINE_DIR}`,
    `ExecStart=/usr/bin/node ${AGENT_BUNDLE_PATH} ${MACHINE_DIR}`,
    'Restart=always',
    'RestartSec=5',
    'NoNewPrivileges=yes',
    'ProtectSystem=full',
    'LimitNOFILE=65536',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The boot steps, as one POSIX sh script (runcmd runs under dash: no bash-isms). */
export function installScript(input: Pick<CloudInitInput, 'agentBundleUrl' | 'agentBundleSha256'>): string {
  return [
    '#!/bin/sh',
    '# Installs and starts the SAM vm-agent; written by cloud-init, run once by runcmd.',
    'set -eu',
    `NODE_MAJOR=${NODE_MAJOR}`,
    `BUNDLE_URL='${input.agentBundleUrl}'`,
    `BUNDLE_SHA256='${input.agentBundleSha256}'`,
    `BUNDLE='${AGENT_BUNDLE_PATH}'`,
    `MACHINE_DIR='${MACHINE_DIR}'`,
    'log() { echo "sam-install: $*"; }',
    'export DEBIAN_FRONTEND=noninteractive',
    `${NODE_INSTALL_MARKERS[0]}`,
    'node_major() { node -p \'process.versions.node.split(".")[0]\' 2>/dev/null || echo 0; }',
    'if ! command -v node >/dev/null 2>&1 || [ "$(node_major)" -lt "$NODE_MAJOR" ]; then',
    '  log "installing Node.js $NODE_MAJOR from NodeSource"',
    '  install -d -m 0755 /etc/apt/keyrings',
    '  curl -fsSL --retry 5 https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg',
    '  echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${NODE_MAJOR}.x nodistro main" > /etc/apt/sources.list.d/nodesource.list',
    '  apt-get update',
    '  apt-get install -y nodejs',
    'fi',
    `${NODE_INSTALL_MARKERS[1]}`,
    `${GIT_INSTALL_MARKERS[0]}`,
    'command -v git >/dev/null 2>&1 || apt-get install -y git',
    `${GIT_INSTALL_MARKERS[1]}`,
    'log "downloading the vm-agent"',
    'install -d -m 0755 "$(dirname "$BUNDLE")"',
    'curl -fsSL --retry 5 --retry-all-errors -o "$BUNDLE.part" "$BUNDLE_URL"',
    'echo "$BUNDLE_SHA256  $BUNDLE.part" | sha256sum -c -',
    'chmod 0644 "$BUNDLE.part"',
    'mv "$BUNDLE.part" "$BUNDLE"',
    `chown ${AGENT_USER}:${AGENT_USER} "$MACHINE_DIR"`,
    'chmod 0700 "$MACHINE_DIR"',
    'systemctl daemon-reload',
    `systemctl enable --now ${UNIT_NAME}`,
    'log "vm-agent started"',
    '',
  ].join('\n');
}

/** The cloud-config document; throws {@link CloudInitInputError} on any input outside its pattern. */
export function generateCloudInit(raw: CloudInitInput): string {
  const input = validateCloudInitInput(raw);
  const bootstrap = `${JSON.stringify(
    { controlPlaneUrl: input.controlPlaneUrl, bootstrapToken: input.bootstrapToken },
    null,
    2,
  )}\n`;
  const body = toYaml({
    hostname: `sam-${input.nodeId.replace(/-/g, '').slice(0, 12)}`,
    users: [
      'default',
      {
        name: AGENT_USER,
        gecos: 'SAM vm-agent',
        shell: '/bin/bash',
        lock_passwd: true,
        homedir: `/home/${AGENT_USER}`,
      },
    ],
    package_update: true,
    packages: ['git', 'curl', 'ca-certificates', 'gnupg'],
    write_files: [
      {
        path: BOOTSTRAP_PATH,
        content: bootstrap,
        owner: `${AGENT_USER}:${AGENT_USER}`,
        permissions: '0600',
        // Deferred: the file belongs to a user cloud-init creates after the first write_files.
        defer: true,
      },
      { path: UNIT_PATH, content: unit(), owner: 'root:root', permissions: '0644' },
      { path: INSTALL_SCRIPT_PATH, content: installScript(input), owner: 'root:root', permissions: '0700' },
    ],
    runcmd: [['sh', INSTALL_SCRIPT_PATH]],
    final_message: 'SAM node boot finished after $UPTIME seconds',
  });
  const doc = `#cloud-config\n${body}`;
  const size = new TextEncoder().encode(doc).length;
  if (size > USER_DATA_LIMIT_BYTES) {
    throw new CloudInitInputError(
      `cloud-init: the user data is ${size} bytes, over the ${USER_DATA_LIMIT_BYTES} limit`,
    );
  }
  return doc;
}
