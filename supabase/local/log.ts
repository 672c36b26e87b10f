/** Progress lines on stderr, so stdout stays clean for command output such as psql's. */
export function step(message: string): void {
  process.stderr.write(`\x1b[36m▸\x1b[0m ${message}\n`);
}

export function done(message: string): void {
  process.stderr.write(`\x1b[32m✓\x1b[0m ${message}\n`);
}

export function warn(message: string): void {
  process.stderr.write(`\x1b[33m!\x1b[0m ${message}\n`);
}
