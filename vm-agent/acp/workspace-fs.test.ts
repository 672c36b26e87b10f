import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as acp from '@agentclientprotocol/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { linkedStreams } from '../test-support/linked-streams.ts';
import { AgentClient } from './agent-client.ts';
import { WorkspaceFs, WorkspacePathError } from './workspace-fs.ts';

let base: string;
let root: string;
let outside: string;
beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'sam-fs-'));
  root = path.join(base, 'ws');
  outside = path.join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  await writeFile(path.join(root, 'notes.md'), 'one\ntwo\nthree\nfour\n');
  await writeFile(path.join(outside, 'secret.txt'), 'secret\n');
  await symlink(outside, path.join(root, 'escape'));
  await symlink(path.join(outside, 'secret.txt'), path.join(root, 'secret-link.txt'));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('WorkspaceFs', () => {
  it('reads and writes inside the workspace, creating parent directories', async () => {
    const fs = new WorkspaceFs(root);
    expect(await fs.readTextFile({ path: path.join(root, 'notes.md') })).toBe('one\ntwo\nthree\nfour\n');
    expect(await fs.readTextFile({ path: path.join(root, 'notes.md'), line: 2, limit: 2 })).toBe('two\nthree');
    await fs.writeTextFile({ path: path.join(root, 'src', 'deep', 'new.ts'), content: 'x' });
    expect(await readFile(path.join(root, 'src', 'deep', 'new.ts'), 'utf8')).toBe('x');
  });

  it.each([
    ['a relative path', 'notes.md'],
    ['.. out of the root', '../outside/secret.txt'],
    ['a sibling with the root as prefix', '../ws-evil/x.txt'],
    ['a symlinked directory pointing out', 'escape/secret.txt'],
    ['a symlinked file pointing out', 'secret-link.txt'],
    ['a new file under a symlinked directory', 'escape/new.txt'],
  ])('refuses %s', async (_what, rel) => {
    const fs = new WorkspaceFs(root);
    const requested = rel === 'notes.md' ? rel : path.join(root, rel);
    await expect(fs.readTextFile({ path: requested })).rejects.toBeInstanceOf(WorkspacePathError);
    await expect(fs.writeTextFile({ path: requested, content: 'pwned' })).rejects.toBeInstanceOf(WorkspacePathError);
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('secret\n');
    await expect(readFile(path.join(outside, 'new.txt'), 'utf8')).rejects.toThrow();
  });
});

describe('fs over ACP', () => {
  it('answers an agent writing outside the workspace with an error and writes nothing; a missing file reads as empty', async () => {
    const outcomes: string[] = [];
    const streams = linkedStreams();
    acp
      .agent({ name: 'probe' })
      .onRequest(acp.methods.agent.initialize, () => ({ protocolVersion: acp.PROTOCOL_VERSION, agentCapabilities: {} }))
      .onRequest(acp.methods.agent.session.new, () => ({ sessionId: 's1' }))
      .onRequest(acp.methods.agent.session.prompt, async ({ client }) => {
        for (const target of [
          path.join(outside, 'x.txt'),
          path.join(root, 'escape', 'y.txt'),
          path.join(root, 'ok.txt'),
        ]) {
          await client
            .request(acp.methods.client.fs.writeTextFile, { sessionId: 's1', path: target, content: 'hi' })
            .then(
              () => outcomes.push('ok'),
              (e: { code?: number; message?: string }) => outcomes.push(`error ${e.code}`),
            );
        }
        for (const target of [path.join(root, 'missing.md'), path.join(outside, 'missing.md')]) {
          await client.request(acp.methods.client.fs.readTextFile, { sessionId: 's1', path: target }).then(
            (r) => outcomes.push(`content ${JSON.stringify(r.content)}`),
            (e: { code?: number }) => outcomes.push(`error ${e.code}`),
          );
        }
        return { stopReason: 'end_turn' };
      })
      .connect(streams.agent);
    const client = await AgentClient.connect(streams.client, {
      workspaceRoot: root,
      sessionId: 'sam-1',
      onRecord: () => {},
    });
    await client.newSession();
    await client.prompt('probe');
    // A file that does not exist yet reads as empty (Gemini CLI reads before writing a new file and
    // fails the write on any error); outside the workspace a missing file is still refused.
    expect(outcomes).toEqual(['error -32602', 'error -32602', 'ok', 'content ""', 'error -32602']);
    expect(await readFile(path.join(root, 'ok.txt'), 'utf8')).toBe('hi');
    await expect(readFile(path.join(outside, 'x.txt'), 'utf8')).rejects.toThrow();
    await expect(readFile(path.join(outside, 'y.txt'), 'utf8')).rejects.toThrow();
    client.close();
  });
});
