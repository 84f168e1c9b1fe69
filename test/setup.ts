import 'aws-sdk-client-mock-jest';

// Keep Powertools quiet in tests that exercise the production wiring; tests assert on outputs, not logs.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
// The AWS SDK warns on Node < 22 about its releases after January 2027 (the CLI silences it the same way).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// aws-cdk-lib's AssetStaging writes "Bundling asset <path>..." straight to stderr (no option turns it off) each
// time a CDK test synthesizes a Lambda. Drop exactly that line; anything else written to stderr still shows.
const BUNDLING_NOTICE = /^Bundling asset [^\n]*\.\.\.\n$/;
const writeStderr = process.stderr.write.bind(process.stderr);
process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) =>
  typeof chunk === 'string' && BUNDLING_NOTICE.test(chunk)
    ? true
    : writeStderr(chunk, ...rest)) as typeof process.stderr.write;
