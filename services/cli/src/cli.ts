import type { Command } from './command.js';
import { CliError, UsageError } from './errors.js';
import type { Io } from './io.js';

/**
 * The subcommands. Each is imported only when run, so `score` does not load Kafka clients.
 */
export const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  score: { summary: 'score texts from arguments or a file, one JSON line each', load: async () => (await import('./commands/score.js')).command },
  eval: { summary: 'accuracy, macro-F1 and confusion matrix of a model (or a lexicon baseline) on a labeled TSV', load: async () => (await import('./commands/eval.js')).command },
  scorer: { summary: 'run the Kafka scorer service (configured from the environment)', load: async () => (await import('./commands/scorer.js')).command },
  sidecar: { summary: 'run the metrics sidecar: /metrics, /healthz, /readyz, consumer lag', load: async () => (await import('./commands/sidecar.js')).command },
  behaviour: { summary: 'pass rates of the behaviour suite (negation, contrast, emoji, long texts, invariance, ...) per capability', load: async () => (await import('./commands/behaviour.js')).command },
  demo: { summary: 'run the service on the broker in KAFKA_BROKERS with sample texts and print the results', load: async () => (await import('./commands/demo.js')).command },
};

export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 2;
  return [
    'usage: sentiment-stream <command> [options]',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    '',
    "Run 'sentiment-stream <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/** Runs the command line `args` (without node and the script) and returns the exit code. */
export async function runCli(args: string[], io: Io): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    io.stderr.write(usage());
    return 2;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (entry === undefined) {
    io.stderr.write(`sentiment-stream: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    return await (await entry.load()).run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`sentiment-stream ${name}: ${err.message}\nRun 'sentiment-stream ${name} --help' for usage.\n`);
      return err.exitCode;
    }
    if (err instanceof CliError) {
      io.stderr.write(`sentiment-stream ${name}: ${err.message}\n`);
      return err.exitCode;
    }
    // Model folder problems, unreadable files, worker failures: their message is the useful part.
    const e = err instanceof Error ? err : new Error(String(err));
    io.stderr.write(`sentiment-stream ${name}: ${e.message.split('\n')[0]}\n`);
    if (io.env.SENTIMENT_STREAM_DEBUG) io.stderr.write(`${e.stack}\n`);
    return 1;
  }
}
