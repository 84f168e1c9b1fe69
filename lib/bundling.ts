import { join } from 'node:path';

/**
 * The esbuild settings every Lambda bundle is built with — used by the function construct and by
 * bench/cold-start.ts, so the bench measures what is deployed. No aws-cdk-lib import here.
 *
 * - `mainFields: module, main`: resolve packages' ES module builds (the AWS SDK's dist-es) so esbuild can
 *   tree-shake them; the CommonJS builds it picks by default cannot be (563 → 410 kB for the interceptor).
 * - The AWS SDK stays bundled at the pinned versions (the runtime's copy can change under us); only the node
 *   credential chain is swapped for the environment provider Lambda needs (lambda/shared/lambda-credentials.ts).
 */
export function lambdaBundling(projectRoot: string) {
  return {
    minify: true,
    sourceMap: true,
    target: 'node22',
    mainFields: ['module', 'main'],
    alias: {
      '@aws-sdk/credential-provider-node': join(projectRoot, 'lambda', 'shared', 'lambda-credentials.ts'),
    },
  } as const;
}
