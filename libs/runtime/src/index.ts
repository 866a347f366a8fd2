export { createLogger } from './logger.js';
export { runService, type ServiceDefinition } from './run-service.js';
