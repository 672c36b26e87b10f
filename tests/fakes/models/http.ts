/**
 * The two ways the scripted model answers over HTTP: a JSON body, and a server-sent event stream
 * (`text/event-stream`: `event:` and `data:` lines, a blank line after each event) as the vendors'
 * streaming APIs frame it, with OpenAI's closing `data: [DONE]`.
 */
import type { ServerResponse } from 'node:http';

export const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

export function sse(res: ServerResponse, events: ({ event?: string; data: unknown } | 'done')[]) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const e of events) {
    if (e === 'done') res.write('data: [DONE]\n\n');
    else res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${JSON.stringify(e.data)}\n\n`);
  }
  res.end();
}
