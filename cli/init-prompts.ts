import type { Choice } from './init-fields';

/**
 * The prompt port of `mcp-identity init`: the command asks through it, so tests drive it with scripted answers
 * and a terminal gets @inquirer/prompts. Each question has a stable id, which the scripted answers are keyed on.
 */

export interface TextQuestion {
  readonly id: string;
  readonly message: string;
  readonly default?: string;
  /** A problem in words, or undefined when the answer is fine (asked again until it is). */
  readonly validate?: (value: string) => string | undefined;
}

export interface SelectQuestion {
  readonly id: string;
  readonly message: string;
  readonly choices: readonly Choice[];
  readonly default?: string;
}

export interface ConfirmQuestion {
  readonly id: string;
  readonly message: string;
  readonly default: boolean;
}

export interface Prompter {
  text(question: TextQuestion): Promise<string>;
  select(question: SelectQuestion): Promise<string>;
  confirm(question: ConfirmQuestion): Promise<boolean>;
  /** A line of guidance between questions. */
  say(line: string): void;
}

/** The user pressed Ctrl-C (or closed the terminal): nothing is written. */
export class PromptCancelled extends Error {}

/** @inquirer/prompts on the given streams (ESM-only, so loaded when a terminal asks for it). */
export async function terminalPrompter(streams: {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream;
}): Promise<Prompter> {
  const inquirer = await import('@inquirer/prompts');
  const context = { input: streams.input, output: streams.output };
  const cancelled = (error: unknown): never => {
    if (error instanceof Error && (error.name === 'ExitPromptError' || error.name === 'AbortPromptError'))
      throw new PromptCancelled('cancelled: nothing was written');
    throw error;
  };
  return {
    text: (question) =>
      inquirer
        .input(
          {
            message: question.message,
            ...(question.default === undefined ? {} : { default: question.default }),
            validate: (value: string) => question.validate?.(value) ?? true,
            // A refused answer is cleared and typed again: with the default ('keep'), backspace did not edit
            // the kept text in our pseudo-terminal test, so a mistyped answer could not be corrected there.
            theme: { validationFailureMode: 'clear' },
          },
          context,
        )
        .then((value) => value.trim(), cancelled),
    select: (question) =>
      inquirer
        .select(
          {
            message: question.message,
            choices: question.choices.map((choice) => ({
              value: choice.value,
              name: choice.name,
              ...(choice.description === undefined ? {} : { description: choice.description }),
            })),
            ...(question.default === undefined ? {} : { default: question.default }),
          },
          context,
        )
        .catch(cancelled),
    confirm: (question) =>
      inquirer.confirm({ message: question.message, default: question.default }, context).catch(cancelled),
    say: (line) => {
      streams.output.write(`${line}\n`);
    },
  };
}
