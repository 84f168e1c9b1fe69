import type { Prompter } from '../../cli/init-prompts';

/**
 * A {@link Prompter} that answers from a script keyed by question id (a list answers the same question asked
 * several times, in order). An answer the question's own validation refuses fails the test, as does a question
 * with no scripted answer: the test says exactly what a user would be asked. `asked` records the ids in order.
 */
export function scriptedPrompter(script: Record<string, string | boolean | readonly (string | boolean)[]>): {
  prompter: Prompter;
  asked: string[];
  said: string[];
} {
  const queues = new Map(
    Object.entries(script).map(([id, answer]) => [id, Array.isArray(answer) ? [...answer] : [answer]]),
  );
  const asked: string[] = [];
  const said: string[] = [];
  const next = (id: string, fallback?: string | boolean): string | boolean => {
    asked.push(id);
    const queue = queues.get(id);
    if (queue === undefined || queue.length === 0)
      throw new Error(`no scripted answer for the question ${id}`);
    const answer = queue.shift() as string | boolean;
    // An empty answer takes the default, as pressing Enter does.
    return answer === '' && fallback !== undefined ? fallback : answer;
  };
  const prompter: Prompter = {
    text: async (question) => {
      const answer = String(next(question.id, question.default));
      const problem = question.validate?.(answer);
      if (problem !== undefined)
        throw new Error(`scripted answer "${answer}" to ${question.id} refused: ${problem}`);
      return answer.trim();
    },
    select: async (question) => {
      const answer = String(next(question.id, question.default));
      if (!question.choices.some((choice) => choice.value === answer))
        throw new Error(`scripted answer "${answer}" to ${question.id} is not a choice`);
      return answer;
    },
    confirm: async (question) => Boolean(next(question.id, question.default)),
    say: (line) => {
      said.push(line);
    },
  };
  return { prompter, asked, said };
}
