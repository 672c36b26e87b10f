#!/usr/bin/env node
// The demo agent as a command that works from any cwd (an agent runs in its workspace):
// registers tsx from this package's node_modules, then runs main.ts.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
