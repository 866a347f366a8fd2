import { runSidecar } from '@sentiment-stream/metrics-sidecar';
import type { Command } from '../command.js';

/** `sentiment-stream sidecar`: configured only from the environment (docs/configuration.md). */
export const command: Command = {
  run: async (args, io) => {
    if (args.includes('--help')) {
      io.stdout.write('usage: sentiment-stream sidecar\nConfigured from the environment; see docs/configuration.md and services/metrics-sidecar/README.md.\n');
      return 0;
    }
    return runSidecar(io.env);
  },
};
