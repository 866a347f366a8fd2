export { COMMANDS, runCli, usage } from './cli.js';
export type { Command } from './command.js';
export { CliError, UsageError } from './errors.js';
export type { Io } from './io.js';
export { confusionMatrix, report, formatReport } from './metrics.js';
export type { ClassMetrics, Report } from './metrics.js';
