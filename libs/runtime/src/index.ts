export { createLogger } from './logger.js';
export { describeError } from './describe-error.js';
export { backoffDelay, retry, sleep, type BackoffOptions, type RetryOptions } from './retry.js';
export { runService, type RunningService, type ServiceDefinition } from './run-service.js';
