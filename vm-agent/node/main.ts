/**
 * The vm-agent process: `node vm-agent/bin.mjs <machineDir>`. Reads `<machineDir>/bootstrap.json`,
 * registers, runs the node loop, and exits 0 when stopped gracefully (SIGTERM/SIGINT, a `shutdown`
 * command, the node destroyed) or 1 on a fatal error. One line per lifecycle event on stdout; never
 * a token.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { markRegistered, readBootstrapFile } from './bootstrap-file.ts';
import { readNodeState } from './machine-state.ts';
import { NodeAgent } from './node-agent.ts';

const log = (line: string) => process.stdout.write(`vm-agent: ${line}\n`);

function agentVersion(): string {
  // The one-file bundle knows its version (vm-agent/bundle/entry.ts); from the source, package.json.
  const bundled = (globalThis as { __SAM_VM_AGENT_VERSION__?: string }).__SAM_VM_AGENT_VERSION__;
  if (bundled) return `sam-vm-agent/${bundled}`;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return `sam-vm-agent/${pkg.version ?? '0.0.0'}`;
  } catch {
    return 'sam-vm-agent/0.0.0';
  }
}

async function main(): Promise<number> {
  const arg = process.argv[2];
  if (!arg) {
    process.stderr.write('usage: node vm-agent/bin.mjs <machineDir>\n');
    return 2;
  }
  const machineDir = path.resolve(arg);
  const { config, warning } = await readBootstrapFile(machineDir);
  if (warning) log(`warning: ${warning}`);
  // A restarted vm-agent resumes with the identity it kept; a new machine registers.
  const resume = await readNodeState(machineDir);
  if (!resume && !config.bootstrapToken) {
    throw new Error(
      `no bootstrap token in ${machineDir}/bootstrap.json (already registered as node ${config.nodeId ?? '?'}); ` +
        'a node registers once',
    );
  }
  const agent = new NodeAgent({
    machineDir,
    controlPlaneUrl: config.controlPlaneUrl,
    bootstrapToken: config.bootstrapToken ?? '',
    ...(resume ? { resume } : {}),
    agentVersion: agentVersion(),
    agentEnv: config.agentEnv ?? {},
    repositoryPolicy: config.git,
    machineEnv: process.env,
    log,
    onRegistered: (nodeId) => markRegistered(machineDir, config, nodeId),
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log(`received ${signal}`);
      void agent.stop('signal');
    });
  }
  log(`starting in ${machineDir} (control plane ${new URL(config.controlPlaneUrl).origin})`);
  await agent.start();
  const reason = await agent.stopped;
  return reason === 'unauthorized' ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`fatal: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
