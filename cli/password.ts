/**
 * The password for `sam login`: never an argument (argv is readable by every user of the machine).
 * Piped on stdin (`--password-stdin`, or whenever stdin is not a terminal), from `SAM_PASSWORD`, or
 * asked at the terminal without echo.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { CliError } from './errors.ts';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  return text.replace(/\r?\n$/, '');
}

function ask(prompt: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  return new Promise((resolve) => {
    rl.question(prompt, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
    muted = true;
  });
}

export async function readPassword(fromStdin: boolean, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  let password: string;
  if (fromStdin || !process.stdin.isTTY) password = await readAll(process.stdin);
  else if (env.SAM_PASSWORD) password = env.SAM_PASSWORD;
  else password = await ask('Password: ');
  if (!password) throw new CliError('No password given.', 2);
  return password;
}
