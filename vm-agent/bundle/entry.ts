/**
 * The entry of the one-file vm-agent bundle (`vm-agent.mjs`, built by `./build.ts`). One file
 * serves three commands, so a machine needs nothing but Node and this file:
 *
 *   node vm-agent.mjs <machineDir>              the vm-agent (`../node/main.ts`)
 *   node vm-agent.mjs demo-agent                the demo agent over ACP on stdio (the catalog's `demo`)
 *   node vm-agent.mjs install --control-plane <url> --token <token> [--dir <machineDir>]
 *                                               bring-your-own: write bootstrap.json, install a user service
 *
 * `globalThis.__SAM_VM_AGENT_BUNDLE__` tells the catalog where the bundle is (to start the demo
 * agent from it); it is set before any other module of the bundle initializes (the imports below
 * are dynamic, so the bundler keeps them lazy).
 */
import { fileURLToPath } from 'node:url';

declare const SAM_VM_AGENT_VERSION: string;

const self = fileURLToPath(import.meta.url);
Object.assign(globalThis, { __SAM_VM_AGENT_BUNDLE__: self, __SAM_VM_AGENT_VERSION__: SAM_VM_AGENT_VERSION });

const command = process.argv[2];
if (command === 'demo-agent') {
  await import('../demo-agent/main.ts');
} else if (command === 'install') {
  const { runInstall } = await import('./install.ts');
  process.exit(await runInstall(process.argv.slice(3), self));
} else if (command === '--version' || command === 'version') {
  process.stdout.write(`sam-vm-agent/${SAM_VM_AGENT_VERSION}\n`);
} else {
  await import('../node/main.ts');
}
