import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startAgentSession, type AgentSessionStart } from './vm-agent/node/agent-session.ts';
import { startTestMcpServer } from './vm-agent/test-support/mcp-server.ts';
import { ScriptedModel } from './tests/fakes/models/scripted-model.ts';
import { payload } from './tests/faults/support.ts';

const dir = await mkdtemp(path.join(tmpdir(), 'sam-dbg-claude-'));
const repoDir = path.join(dir, 'repo');
await mkdir(repoDir, { recursive: true });
await writeFile(path.join(repoDir, 'README.md'), '# x\n');
const mcp = await startTestMcpServer('tok');
const model = await new ScriptedModel({ cwd: repoDir, steps: [{ text: 'Counting:', stream: { chunks: 40, delayMs: 60 } }] }).start();
const start: AgentSessionStart = {
  payload: payload('claude-code'), repoDir, stateDir: path.join(dir, 'st'), agentSessionId: 'dbg',
  mcp: { url: mcp.url, token: 'tok' },
  launch: { agentType: 'claude-code', model: null, permissionMode: null, instructions: null,
    credential: { provider: 'anthropic', secretApiKey: 'sk-ant-dbg-123456789', baseUrl: model.url, config: {} } },
  agentHome: path.join(dir, 'home'), cacheDir: '/var/cache/sam/agents', agentEnv: {},
  machineEnv: { PATH: process.env.PATH, HOME: path.join(dir, 'home') },
  onRecord: async () => {}, log: (l) => console.log('LOG', l),
};
const a = await startAgentSession(start);
console.log('session', a.acpSessionId);
const { readdirSync, readFileSync } = await import('node:fs');
const dump = (what: string) => { const d = path.join(dir, 'home/.claude/projects'); for (const sub of readdirSync(d)) for (const f of readdirSync(path.join(d, sub))) console.log(what, f, readFileSync(path.join(d, sub, f), 'utf8').split('\n').filter(Boolean).map((l) => { const j = JSON.parse(l); return j.type + ':' + (typeof j.message?.content === 'string' ? j.message.content.slice(0, 30) : JSON.stringify(j.message?.content ?? '').slice(0, 60)); }).join(' | ')); };
console.log('first', await a.prompt('first prompt please'));
dump('after turn 1');
const t0 = Date.now();
const iv = setInterval(() => dump(`t+${Date.now() - t0}`), 300);
const p = a.prompt('hello count please').catch((e) => console.log('prompt err', String(e)));
await new Promise((r) => setTimeout(r, 1500));
process.kill(a.process.child.pid!, 'SIGKILL'); clearInterval(iv); dump('at kill');
await p;
await a.process.stop(1000);
console.log('stderr tail', a.process.stderrTail().slice(-2000));
try {
  const b = await startAgentSession({ ...start, resumeAcpSessionId: a.acpSessionId });
  console.log('loaded OK');
  console.log('prompt2', await b.prompt('again'));
  await b.stop(1000);
} catch (e) {
  console.log('load err', e, JSON.stringify(e));
}
await model.close(); await mcp.close();
console.log('dir', dir);
process.exit(0);
