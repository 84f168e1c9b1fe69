import 'aws-sdk-client-mock-jest';

// Keep Powertools quiet in tests that exercise the production wiring; tests assert on outputs, not logs.
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
