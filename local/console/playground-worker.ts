import { parentPort, workerData } from 'node:worker_threads';
import { decideInPlayground } from './playground';

/**
 * The playground's thread: loading the policy folder and deciding with cedar-wasm take from tens to hundreds of
 * milliseconds of synchronous work, which on the gateway's own thread would hold up every MCP request meanwhile.
 */
const where = workerData as { readonly policyDir: string; readonly usersFile: string };

parentPort?.on('message', (message: { readonly id: number; readonly body: string }) => {
  decideInPlayground(message.body, where).then(
    (answer) => parentPort?.postMessage({ id: message.id, answer }),
    (error: unknown) =>
      parentPort?.postMessage({
        id: message.id,
        failure: error instanceof Error ? error.message : 'the playground failed',
      }),
  );
});
