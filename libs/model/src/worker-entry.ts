import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts `./<name>.js` next to this module. Built code (dist/*.js) starts the .js file directly;
 * when this module itself is TypeScript source (vitest, tsx) the worker is the .ts file beside it,
 * loaded through tsx's ESM hooks. On Node 20, `execArgv: ['--import', 'tsx']` does not apply the
 * hooks to a worker's entry module, so a one-line bootstrap registers them and then imports it.
 */
export function startWorker(name: string, options: WorkerOptions): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, here), options);
  const entry = new URL(`./${name}.ts`, here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
