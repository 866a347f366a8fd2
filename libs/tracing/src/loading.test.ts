// "No SDK cost when off", checked: a Node.js process that starts tracing from an environment
// without an OTLP endpoint resolves no module of the OpenTelemetry SDK. Runs the built library
// (dist/, from `tsc -b`) in a child process whose resolve hook records every @opentelemetry module.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dist = new URL('../dist/index.js', import.meta.url);

const hook = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({ resolve(specifier, context, next) {
  const r = next(specifier, context);
  const m = /node_modules\\/(@opentelemetry\\/[^/]+)/.exec(r.url);
  if (m) seen.add(m[1]);
  return r;
} });
process.on('exit', () => process.stdout.write('\\n' + JSON.stringify([...seen].sort())));
`)}`;

function modulesLoaded(env: Record<string, string>): string[] {
  const script = `
    const t = await import(${JSON.stringify(dist.href)});
    const tracing = await t.startTracing(t.tracingSettings(${JSON.stringify(env)}), {
      consumerGroup: 'g', model: { name: 'm', version: '1', provider: 'cpu' }, serviceName: 's', logger: { warn() {}, debug() {} },
    });
    tracing.batch([]);
    await tracing.shutdown(100);`;
  const out = execFileSync(process.execPath, ['--import', hook, '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1)!) as string[];
}

describe('loading', () => {
  it('tracing off loads no OpenTelemetry module; on, it loads the SDK', () => {
    expect(existsSync(fileURLToPath(dist)), `${fileURLToPath(dist)} is missing: build first (npx tsc -b)`).toBe(true);
    expect(modulesLoaded({})).toEqual([]);
    expect(modulesLoaded({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' })).toEqual(
      expect.arrayContaining(['@opentelemetry/api', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/sdk-trace']),
    );
  });
});
