import type { ParseArgsConfig } from 'node:util';
import { parseProviders, type LoadOptions } from '@sentiment-stream/model';
import { UsageError } from './errors.js';
import type { Io } from './io.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Flags shared by the commands that load a model. */
export const MODEL_OPTIONS = {
  model: { type: 'string', short: 'm' },
  providers: { type: 'string' },
  threads: { type: 'string' },
  'batch-size': { type: 'string' },
} as const satisfies Options;

export const DEFAULT_MODEL = 'sst2-bilstm';
export const DEFAULT_BATCH_SIZE = 256;

/** `help` (-h), which every command accepts. */
export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;

/**
 * Runs a node:util parseArgs call (strict mode throws on unknown flags and missing values) and
 * turns its errors into one-line usage errors.
 */
export function parseOrUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    // parseArgs explains how to pass a positional that starts with '-'; keep the first sentence.
    const message = (err as Error).message.split(/\. To specify a positional/)[0]!;
    throw new UsageError(message.replace(/\.$/, ''));
  }
}

export function positiveInt(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${flag} must be a positive integer, got "${value}"`);
  return Number(value);
}

/** --providers, else EXECUTION_PROVIDERS, else cpu; --threads; MODELS_DIR; warnings to stderr. */
export function loadOptions(values: { providers?: string | undefined; threads?: string | undefined }, io: Io): LoadOptions {
  const providerList = values.providers ?? io.env.EXECUTION_PROVIDERS ?? 'cpu';
  let executionProviders;
  try {
    executionProviders = parseProviders(providerList);
  } catch (err) {
    throw new UsageError(`--providers: ${(err as Error).message}`);
  }
  const options: LoadOptions = { executionProviders, onWarning: (w) => io.stderr.write(`warning: ${w}\n`) };
  if (values.threads !== undefined) options.intraOpThreads = positiveInt('threads', values.threads, 1);
  if (io.env.MODELS_DIR) options.modelsDir = io.env.MODELS_DIR;
  return options;
}
