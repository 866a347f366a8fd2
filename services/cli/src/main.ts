#!/usr/bin/env node
import { runCli } from './cli.js';
import { processIo } from './io.js';

// `sentiment-stream score ... | head`: a reader that stops early is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2), processIo());
