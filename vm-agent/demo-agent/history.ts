/**
 * The demo agent's memory of its sessions: cwd, MCP servers and every update it sent, so that
 * `session/load` can replay a session, also in a new agent process (a state directory on disk).
 */
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { McpServer, SessionUpdate } from '@agentclientprotocol/sdk';

export type StoredSession = { cwd: string; mcpServers: McpServer[]; updates: SessionUpdate[]; turns: number };

export class SessionHistory {
  private readonly sessions = new Map<string, StoredSession>();

  /** `stateDir` null keeps history in memory only (one process). */
  constructor(private readonly stateDir: string | null) {
    if (stateDir) mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  }

  private file(sessionId: string): string | null {
    if (!this.stateDir || !/^[\w-]+$/.test(sessionId)) return null;
    return path.join(this.stateDir, `${sessionId}.jsonl`);
  }

  create(sessionId: string, cwd: string, mcpServers: McpServer[]): StoredSession {
    const session: StoredSession = { cwd, mcpServers, updates: [], turns: 0 };
    this.sessions.set(sessionId, session);
    const file = this.file(sessionId);
    if (file) appendFileSync(file, `${JSON.stringify({ cwd })}\n`, { mode: 0o600 });
    return session;
  }

  record(sessionId: string, update: SessionUpdate): void {
    const session = this.sessions.get(sessionId);
    if (!session) return;
    session.updates.push(update);
    if (update.sessionUpdate === 'user_message_chunk') session.turns += 1;
    const file = this.file(sessionId);
    if (file) appendFileSync(file, `${JSON.stringify({ update })}\n`);
  }

  /** The session from memory, else from the state directory (a restarted agent). */
  /** `mcpServers` given (a `session/load`) replaces the stored ones; omitted keeps them. */
  load(sessionId: string, mcpServers?: McpServer[]): StoredSession | null {
    const known = this.sessions.get(sessionId);
    if (known) {
      if (mcpServers) known.mcpServers = mcpServers;
      return known;
    }
    const file = this.file(sessionId);
    if (!file) return null;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return null;
    }
    const lines = text.split('\n').filter((l) => l.trim() !== '');
    const head = JSON.parse(lines[0] ?? '{}') as { cwd?: string };
    const session: StoredSession = { cwd: head.cwd ?? '', mcpServers: mcpServers ?? [], updates: [], turns: 0 };
    for (const line of lines.slice(1)) {
      try {
        const update = (JSON.parse(line) as { update: SessionUpdate }).update;
        session.updates.push(update);
        if (update.sessionUpdate === 'user_message_chunk') session.turns += 1;
      } catch {
        continue; // a torn line (a crash mid-write): the lines after it still count
      }
    }
    this.sessions.set(sessionId, session);
    return session;
  }
}
