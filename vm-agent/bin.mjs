#!/usr/bin/env node
// The vm-agent as a command: `node vm-agent/bin.mjs <machineDir>` (works from any cwd). Registers
// tsx from this package's node_modules, then runs node/main.ts.
import { register } from 'tsx/esm/api';

register();
await import('./node/main.ts');
