/**
 * The Gemini API as Gemini CLI speaks it: `POST …/models/{model}:generateContent` answered
 * as one `GenerateContentResponse`, `:streamGenerateContent` (with `alt=sse`) as server-sent events
 * of them; `functionCall` parts for tool calls, `functionResponse` parts for their results. A request
 * with `generationConfig.responseJsonSchema` (Gemini CLI's routing call) gets a JSON answer to it.
 * https://ai.google.dev/api/generate-content
 */
import type { ServerResponse } from 'node:http';
import { json, sse } from './http.ts';
import type { Turn } from './script.ts';

/** How many `functionResponse` parts (tool results) the conversation holds. */
export function geminiToolResults(body: Record<string, unknown>): number {
  let n = 0;
  for (const c of (body.contents as { parts?: { functionResponse?: unknown }[] }[] | undefined) ?? []) {
    n += (c.parts ?? []).filter((p) => p.functionResponse).length;
  }
  return n;
}

/** A request without tools gets a title, not a step of the script. */
export function answerGemini(res: ServerResponse, turn: Turn, stream: boolean) {
  const { request, usage } = turn;
  const usageMetadata = {
    promptTokenCount: usage.input,
    candidatesTokenCount: usage.output,
    totalTokenCount: usage.input + usage.output,
  };
  const schema = (request.body.generationConfig as { responseJsonSchema?: unknown } | undefined)?.responseJsonSchema;
  let parts: Record<string, unknown>[];
  if (schema) {
    parts = [{ text: JSON.stringify({ complexity_reasoning: 'a scripted task', complexity_score: 1 }) }];
  } else {
    const step = request.tools.length > 0 ? turn.step() : { text: 'Scripted title' };
    const call = turn.toolCall(step);
    parts = call
      ? [{ functionCall: { name: call.name, args: call.args } }]
      : [{ text: (step as { text: string }).text }];
  }
  const answer = {
    candidates: [{ content: { role: 'model', parts }, finishReason: 'STOP', index: 0 }],
    usageMetadata,
  };
  if (!stream) return json(res, 200, answer);
  sse(res, [{ data: answer }]);
}
