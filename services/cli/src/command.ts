import type { Io } from './io.js';

/** One subcommand: parses its own arguments, returns the exit code, throws CliError for user errors. */
export interface Command {
  run(args: string[], io: Io): Promise<number>;
}
