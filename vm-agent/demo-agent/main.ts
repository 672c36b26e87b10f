/**
 * The demo agent as a process: ACP over stdio (NDJSON on stdin/stdout). Only ACP goes to stdout;
 * diagnostics go to stderr. `node --import tsx vm-agent/demo-agent/main.ts`
 */
import { Readable, Writable } from 'node:stream';
import * as acp from '@agentclientprotocol/sdk';
import { createDemoAgent, demoOptionsFromEnv } from './agent.ts';

const stream = acp.ndJsonStream(
  Writable.toWeb(process.stdout) as WritableStream<Uint8Array>,
  Readable.toWeb(process.stdin) as ReadableStream<Uint8Array>,
);
const connection = createDemoAgent(demoOptionsFromEnv(process.env)).connect(stream);
connection.closed.then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`sam-demo-agent: connection failed: ${String(error)}\n`);
    process.exit(1);
  },
);
