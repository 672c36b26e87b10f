// The agents' questions (request_human_input): the user answers; the card reads where a question stands.
import type { QuestionState } from '../../../../functions/_shared/common/contracts/questions.ts';
import { sb } from './client.ts';

/** Answers an agent's question (a choice or free text); the agent gets it (see answer_human_input). */
export async function answerQuestion(requestId: string, answer: string): Promise<void> {
  const { error } = await sb().rpc('answer_human_input', { p_request: requestId, p_answer: answer });
  if (error) throw new Error(error.message);
}

export interface QuestionRow {
  status: QuestionState;
  answer: string | null;
  expiresAt: string;
}

/** Where a question stands (the owner's own rows, under RLS); null when it cannot be read. */
export async function fetchQuestion(requestId: string): Promise<QuestionRow | null> {
  const { data, error } = await sb()
    .from('human_input_requests')
    .select('status, answer, expires_at')
    .eq('id', requestId)
    .maybeSingle();
  if (error) throw new Error(error.message);
  if (!data) return null;
  const row = data as { status: QuestionState; answer: string | null; expires_at: string };
  return { status: row.status, answer: row.answer, expiresAt: row.expires_at };
}
