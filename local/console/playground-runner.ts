import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PlaygroundAnswer } from './playground';

/**
 * Runs playground decisions on one worker thread, started on first use and kept for the next (loading cedar-wasm
 * is the slow part). Requests are answered in order; a few may wait, more are refused (busy), and a decision that
 * takes too long ends the worker (the next request starts a fresh one). Every failure is an answer to show, never
 * an exception: the playground decides nothing for the gateway, so failing is only ever a message.
 */
export interface PlaygroundRunnerOptions {
  readonly policyDir: string;
  readonly usersFile: string;
  /** @default 4 */
  readonly maxPending?: number;
  /** @default 20000 */
  readonly timeoutMs?: number;
}

export type RunnerAnswer =
  | PlaygroundAnswer
  | { readonly status: 500 | 503; readonly body: { readonly error: string } };

interface Pending {
  readonly resolve: (answer: RunnerAnswer) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The worker's entry. From TypeScript sources (npm start runs them through tsx, tests through ts-jest) the
 * thread registers tsx itself, as bin/mcp-identity.js does; from a build it loads the compiled file.
 * Every path is absolute: an eval worker resolves a bare `require('tsx/cjs')` from the process's working
 * directory, so the playground failed whenever the stack was started from outside the project.
 */
function workerSource(): { code: string; eval: true } {
  const compiled = __filename.endsWith('.js');
  const file = join(__dirname, `playground-worker.${compiled ? 'js' : 'ts'}`);
  const register = compiled ? '' : `require(${JSON.stringify(require.resolve('tsx/cjs'))});`;
  return { code: `${register} require(${JSON.stringify(file)});`, eval: true };
}

export class PlaygroundRunner {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private readonly maxPending: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: PlaygroundRunnerOptions) {
    this.maxPending = options.maxPending ?? 4;
    this.timeoutMs = options.timeoutMs ?? 20_000;
  }

  decide(body: string): Promise<RunnerAnswer> {
    if (this.pending.size >= this.maxPending)
      return Promise.resolve({
        status: 503,
        body: { error: 'the playground is busy with earlier requests: try again in a moment' },
      });
    const worker = this.started();
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.end(
          `the playground took longer than ${this.timeoutMs / 1000} s and was stopped; try again`,
          worker,
        );
      }, this.timeoutMs);
      this.pending.set(id, { resolve, timer });
      worker.postMessage({ id, body });
    });
  }

  /** Stops the worker; requests still waiting are answered with an error. */
  async close(): Promise<void> {
    const worker = this.worker;
    this.end('the local stack is stopping', worker);
    await worker?.terminate();
  }

  private started(): Worker {
    if (this.worker !== undefined) return this.worker;
    const source = workerSource();
    const worker = new Worker(source.code, {
      eval: source.eval,
      workerData: { policyDir: this.options.policyDir, usersFile: this.options.usersFile },
    });
    // Never what keeps the stack's process alive.
    worker.unref();
    worker.on('message', (message: { id: number; answer?: PlaygroundAnswer; failure?: string }) => {
      const waiting = this.pending.get(message.id);
      if (waiting === undefined) return;
      this.pending.delete(message.id);
      clearTimeout(waiting.timer);
      waiting.resolve(
        message.answer ?? {
          status: 500,
          body: { error: `the playground could not decide: ${message.failure ?? 'no answer'}` },
        },
      );
    });
    worker.on('error', (error) => this.end(`the playground failed: ${error.message}`, worker));
    worker.on('exit', () => this.end('the playground stopped', worker));
    this.worker = worker;
    return worker;
  }

  /** Answers everything waiting on this worker with an error and forgets the worker. */
  private end(reason: string, worker: Worker | undefined): void {
    if (worker === undefined || this.worker !== worker) return;
    this.worker = undefined;
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      waiting.resolve({ status: 500, body: { error: reason } });
      this.pending.delete(id);
    }
    void worker.terminate();
  }
}
