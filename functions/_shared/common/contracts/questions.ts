/**
 * Questions an agent asks the human (MCP `request_human_input`), as the chat shows them: a
 * `system` message `question:<id>` whose metadata is a {@link QuestionCard}. The user's answer is
 * the user message `answer:<id>`; a question nobody answered in time gets `question:<id>:outcome`
 * (metadata kind `human_input_expired`). Answered with `answer_human_input(p_request, p_answer)`.
 *
 * Pure TypeScript on purpose: Deno, Node and the web import this file.
 */
import { z } from 'zod';

/** The question line's metadata (`kind` and `expiresAt` are missing on lines written before they were added). */
export const QuestionCard = z.object({
  kind: z.literal('human_input').optional(),
  humanInputRequestId: z.uuid(),
  category: z.string().optional(),
  options: z.array(z.string()).nullable().optional(),
  expiresAt: z.string().optional(),
});
export type QuestionCard = z.infer<typeof QuestionCard>;

/** A question's state as its owner may read it (`human_input_requests`, under RLS). */
export const QUESTION_STATES = ['pending', 'answered', 'expired', 'cancelled'] as const;
export type QuestionState = (typeof QUESTION_STATES)[number];

/** The message ids that close a question in the chat. */
export const answerMessageId = (requestId: string) => `answer:${requestId}`;
export const expiredMessageId = (requestId: string) => `question:${requestId}:outcome`;
