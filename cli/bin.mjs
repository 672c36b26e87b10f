#!/usr/bin/env node
// `sam`, the command for people who use SAM from a terminal (login, projects, tasks, --follow).
// Not the local-stack commands (`npm run sam`, scripts/sam.ts). Registers tsx, then runs main.ts.
// Exits as soon as the command is done (once its output is flushed), whatever timers a client left.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
const code = await main(process.argv.slice(2));
process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
