import { runScorer } from '@sentiment-stream/scorer';
import type { Command } from '../command.js';

/** `sentiment-stream scorer`: configured only from the environment (docs/configuration.md). */
export const command: Command = {
  run: async (args, io) => {
    if (args.includes('--help')) {
      io.stdout.write('usage: sentiment-stream scorer\nConfigured from the environment; see docs/configuration.md.\n');
      return 0;
    }
    return runScorer(io.env);
  },
};
