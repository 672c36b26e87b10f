/**
 * Test helper process: appends records to an outbox forever and prints `ok <messageId>` after
 * each append resolved (i.e. after fsync), so a test can SIGKILL it mid-stream and check that
 * every acknowledged append survived. argv: <outbox dir>
 */
import { Outbox } from '../outbox/outbox.ts';
import { makeRecord } from './records.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: outbox-writer <dir>');
const outbox = await Outbox.open({ dir, send: () => new Promise(() => {}) });
for (let i = 0; ; i++) {
  const record = makeRecord(i, i % 2 === 0 ? 'session-a' : 'session-b', `payload ${i} ${'x'.repeat(i % 500)}`);
  await outbox.append(record);
  process.stdout.write(`ok ${record.messageId}\n`);
}
