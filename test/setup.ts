import 'aws-sdk-client-mock-jest';

// Keep Powertools quiet in tests that exercise the production wiring; tests assert on outputs, not logs.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
// The AWS SDK warns on Node < 22 about its releases after January 2027 (the CLI silences it the same way).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
