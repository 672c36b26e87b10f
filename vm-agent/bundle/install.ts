/**
 * `node vm-agent.mjs install --control-plane <url> [--dir <machineDir>]`, with the one-time token in
 * `SAM_BOOTSTRAP_TOKEN` (the environment, not argv, where other users could read it): enrols a
 * machine its owner brings. Run by the command the web shows under "Add a machine", after that
 * command downloaded this bundle and checked its sha256.
 *
 *   1. the machine directory (default `$XDG_DATA_HOME/sam-vm-agent`, else `~/.local/share/sam-vm-agent`),
 *      mode 0700, gets a copy of this bundle and `bootstrap.json` (0600) with the control plane
 *      and the token;
 *   2. a user service runs `node <dir>/vm-agent.mjs <dir>` and restarts it after a failure (it exits
 *      0 when its owner removed the machine, and stays stopped then):
 *        - systemd's user manager when there is one (`~/.config/systemd/user/sam-vm-agent.service`,
 *          `systemctl --user enable --now`); it outlives the login only with `loginctl enable-linger`;
 *        - otherwise `<dir>/run.sh`, a restart loop started now with nohup, and an `@reboot` line in
 *          the user's crontab when `crontab` exists.
 * Never prints the token.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export const SERVICE_NAME = 'sam-vm-agent.service';

export interface InstallPlan {
  controlPlaneUrl: string;
  token: string;
  dir: string;
}

function usage(problem: string): never {
  throw new Error(
    `${problem}\nusage: SAM_BOOTSTRAP_TOKEN=<token> node vm-agent.mjs install --control-plane <url> [--dir <machineDir>]`,
  );
}

export function parseInstallArgs(args: string[], env: NodeJS.ProcessEnv): InstallPlan {
  const value = (flag: string) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const controlPlaneUrl = value('--control-plane') ?? usage('--control-plane is missing');
  if (!/^https?:\/\/\S+$/.test(controlPlaneUrl)) usage('--control-plane must be an http(s) URL');
  const token = env.SAM_BOOTSTRAP_TOKEN ?? usage('SAM_BOOTSTRAP_TOKEN is not set');
  if (!/^[A-Za-z0-9_-]{16,200}$/.test(token)) usage('SAM_BOOTSTRAP_TOKEN is not a bootstrap token');
  const home = env.HOME || homedir();
  const dir = path.resolve(
    value('--dir') ?? path.join(env.XDG_DATA_HOME || path.join(home, '.local', 'share'), 'sam-vm-agent'),
  );
  return { controlPlaneUrl, token, dir };
}

/** The restart loop of machines without a systemd user manager (POSIX sh). */
export function runScript(node: string, dir: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    '#!/bin/sh',
    '# Keeps the SAM vm-agent running: restarts it 10 s after a failure, stops when it exits 0',
    '# (its owner removed the machine, or it was told to shut down).',
    `cd ${q(dir)} || exit 1`,
    'echo $$ > vm-agent.pid',
    'while :; do',
    `  ${q(node)} ${q(path.join(dir, 'vm-agent.mjs'))} ${q(dir)} >> vm-agent.log 2>&1 && break`,
    '  sleep 10',
    'done',
    'rm -f vm-agent.pid',
    '',
  ].join('\n');
}

export function userUnit(node: string, dir: string): string {
  return [
    '[Unit]',
    'Description=SAM vm-agent (a machine you brought)',
    'Wants=network-online.target',
    'After=network-online.target',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=simple',
    `WorkingDirectory=${dir}`,
    `ExecStart=${node} ${path.join(dir, 'vm-agent.mjs')} ${dir}`,
    'Restart=on-failure',
    'RestartSec=10',
    '',
    '[Install]',
    'WantedBy=default.target',
    '',
  ].join('\n');
}

function hasUserSystemd(): boolean {
  return spawnSync('systemctl', ['--user', 'show-environment'], { stdio: 'ignore' }).status === 0;
}

function addRebootLine(script: string): boolean {
  const list = spawnSync('crontab', ['-l'], { encoding: 'utf8' });
  if (list.error) return false;
  const line = `@reboot /bin/sh '${script}'`;
  const current = list.status === 0 ? list.stdout : '';
  if (current.split('\n').includes(line)) return true;
  const next = `${current.replace(/\n*$/, '\n')}${line}\n`.replace(/^\n/, '');
  return spawnSync('crontab', ['-'], { input: next }).status === 0;
}

export async function runInstall(args: string[], bundle: string): Promise<number> {
  const say = (line: string) => process.stdout.write(`sam install: ${line}\n`);
  let plan: InstallPlan;
  try {
    plan = parseInstallArgs(args, process.env);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const { dir } = plan;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const target = path.join(dir, 'vm-agent.mjs');
  if (!existsSync(target) || realpathSync(target) !== realpathSync(bundle)) copyFileSync(bundle, target);
  chmodSync(target, 0o644);
  const bootstrap = path.join(dir, 'bootstrap.json');
  writeFileSync(
    bootstrap,
    `${JSON.stringify({ controlPlaneUrl: plan.controlPlaneUrl, bootstrapToken: plan.token }, null, 2)}\n`,
    { mode: 0o600 },
  );
  chmodSync(bootstrap, 0o600);
  say(`machine directory ${dir} (bootstrap.json 0600, one-time token)`);
  const node = process.execPath;

  if (hasUserSystemd()) {
    const unitDir = path.join(
      process.env.XDG_CONFIG_HOME || path.join(process.env.HOME || homedir(), '.config'),
      'systemd',
      'user',
    );
    mkdirSync(unitDir, { recursive: true });
    writeFileSync(path.join(unitDir, SERVICE_NAME), userUnit(node, dir));
    for (const step of [['daemon-reload'], ['enable', '--now', SERVICE_NAME]]) {
      const r = spawnSync('systemctl', ['--user', ...step], { stdio: 'inherit' });
      if (r.status !== 0) {
        process.stderr.write(`sam install: systemctl --user ${step.join(' ')} failed\n`);
        return 1;
      }
    }
    say(`started the user service ${SERVICE_NAME} (logs: journalctl --user -u ${SERVICE_NAME})`);
    say('to keep it running after you log out: loginctl enable-linger');
    return 0;
  }

  const script = path.join(dir, 'run.sh');
  writeFileSync(script, runScript(node, dir), { mode: 0o700 });
  const out = openSync('/dev/null', 'a');
  const child = spawn('/bin/sh', [script], { cwd: dir, detached: true, stdio: ['ignore', out, out] });
  child.unref();
  say(`no systemd user manager: started ${script} in the background (pid ${child.pid}, logs: ${dir}/vm-agent.log)`);
  say(
    addRebootLine(script)
      ? 'added an @reboot line to your crontab, so it starts again after a reboot'
      : 'no crontab here: start it again after a reboot with: nohup sh ' + script + ' &',
  );
  return 0;
}
