// The images, without a Docker engine: both Dockerfiles go through dockerfile-utils' validator (the
// one behind VS Code's Dockerfile support) and are parsed with dockerfile-ast, and the assertions
// read the parsed instructions stage by stage. What this cannot show — that the layers build — was
// checked by hand by replaying the build stage's commands on this machine (see deploy/docker/).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { repoRoot } from './render.js';

interface Stage {
  from: string;
  name: string | null;
  instructions: Instruction[];
}

function load(file: string) {
  const text = readFileSync(join(repoRoot, 'deploy', 'docker', file), 'utf8');
  const df = DockerfileParser.parse(text);
  const stages: Stage[] = [];
  for (const ins of df.getInstructions()) {
    if (ins.getKeyword() === 'FROM') {
      const args = ins.getArguments().map((a) => a.getValue());
      const as = args.findIndex((a) => a.toUpperCase() === 'AS');
      stages.push({ from: args.find((a) => !a.startsWith('--'))!, name: as >= 0 ? args[as + 1]! : null, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(ins);
    }
  }
  const argDefaults = Object.fromEntries(
    df.getInitialARGs().flatMap((a) => a.getProperties().map((p) => [p.getName(), p.getValue() ?? ''] as const)),
  );
  return { text, stages, argDefaults, diagnostics: validate(text) };
}

const keyword = (s: Stage, k: string) => s.instructions.filter((i) => i.getKeyword() === k);
const content = (i: Instruction) => i.getArgumentsContent() ?? '';
/** The instruction's text after its keyword, flags included (getArgumentsContent drops COPY's --from). */
const full = (i: Instruction) => i.getTextContent().replace(/^\S+\s+/, '');
const runs = (s: Stage) => keyword(s, 'RUN').map(content).join('\n');
const json = (i: Instruction) => JSON.parse(content(i)) as unknown;
const final = (f: ReturnType<typeof load>) => f.stages.at(-1)!;

const images = { cpu: load('Dockerfile'), gpu: load('Dockerfile.gpu') };
/** V8's heap bounds (the Dockerfile's comment gives the figures); Node refuses the last two in NODE_OPTIONS. */
const HEAP_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=50', '--initial-old-space-size=32'];

describe.each(Object.entries(images))('%s Dockerfile', (_name, image) => {
  it('passes the Dockerfile validator with no diagnostics', () => {
    expect(image.diagnostics.map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
  });

  it('builds on the current Node LTS (an even major) slim image', () => {
    expect(Number(image.argDefaults.NODE_VERSION)).toBeGreaterThanOrEqual(22);
    expect(Number(image.argDefaults.NODE_VERSION) % 2).toBe(0);
    expect(image.stages[0]!.from).toBe('node:${NODE_VERSION}-slim');
  });

  it('compiles in a build stage and keeps only production dependencies', () => {
    const build = image.stages.find((s) => s.name === 'build')!;
    expect(runs(build)).toMatch(/npm ci/);
    expect(runs(build)).toMatch(/npx tsc -b/);
    expect(runs(build)).toMatch(/npm prune --omit=dev/);
    const runtime = final(image);
    expect(runtime.name).toBe('runtime');
    // Nothing is installed with npm, and no compiler, in the image that runs.
    expect(runs(runtime)).not.toMatch(/npm (ci|install)|build-essential|\bg\+\+|\bgcc\b|\bmake\b|python3/);
    expect(runs(runtime)).not.toMatch(/curl[^|]*\|\s*(ba)?sh/);
    const copies = keyword(runtime, 'COPY').map(full);
    expect(copies).toContain('--from=build /app/node_modules ./node_modules');
    expect(copies).toContain('models ./models');
  });

  it('runs as a numeric non-root user under tini, scorer by default', () => {
    const runtime = final(image);
    const users = keyword(runtime, 'USER').map(content);
    expect(users).toHaveLength(1);
    expect(users[0]).toMatch(/^[1-9][0-9]*(:[1-9][0-9]*)?$/);
    expect(keyword(runtime, 'ENTRYPOINT').map(json)).toEqual([['tini', '--', 'node', ...HEAP_FLAGS, 'services/cli/dist/main.js']]);
    expect(keyword(runtime, 'CMD').map(json)).toEqual([['scorer']]);
    expect(runs(runtime)).toMatch(/apt-get install -y --no-install-recommends tini/);
    // A read-only root filesystem leaves /tmp as the only writable place, so HOME points there.
    expect(keyword(runtime, 'ENV').map(content).join('\n')).toMatch(/HOME=\/tmp/);
  });

  it("bounds V8's heap on node's command line and malloc's arenas in ENV (make bench's systems run with both), and leaves NODE_OPTIONS to the pod", () => {
    const env = keyword(final(image), 'ENV').map(content).join('\n');
    expect(env).not.toMatch(/NODE_OPTIONS/);
    // glibc's arenas, bounded the same way (the Dockerfile's comment gives the figures).
    expect(env).toMatch(/MALLOC_ARENA_MAX=2\b/);
  });
});

describe('GPU Dockerfile', () => {
  const gpu = images.gpu;
  const build = gpu.stages.find((s) => s.name === 'build')!;

  it('runs on NVIDIA CUDA 12 + cuDNN runtime with Node copied from the official image', () => {
    expect(gpu.argDefaults.CUDA_IMAGE).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu2[24]\.04$/);
    expect(final(gpu).from).toBe('${CUDA_IMAGE}');
    expect(keyword(final(gpu), 'COPY').map(full)).toContain('--from=node /usr/local/bin/node /usr/local/bin/node');
    expect(keyword(final(gpu), 'ENV').map(content).join('\n')).toMatch(/EXECUTION_PROVIDERS=cuda,cpu/);
  });

  it('installs the CUDA provider: ONNXRUNTIME_NODE_INSTALL=cuda12 and the script allowed before npm ci, checked after', () => {
    const ins = build.instructions.map((i) => `${i.getKeyword()} ${content(i)}`);
    const at = (re: RegExp) => ins.findIndex((l) => re.test(l));
    const env = at(/^ENV ONNXRUNTIME_NODE_INSTALL=cuda12$/);
    const allow = at(/^RUN printf 'allow-scripts=onnxruntime-node\\n' >> "\$HOME\/.npmrc"$/);
    const ci = at(/^RUN .*npm ci$/);
    const check = at(/^RUN ls .*libonnxruntime_providers_cuda\.so/);
    expect([env, allow, ci, check].every((i) => i >= 0), ins.join('\n')).toBe(true);
    expect(env).toBeLessThan(ci);
    expect(allow).toBeLessThan(ci);
    expect(check).toBeGreaterThan(ci);
  });
});

describe('CPU Dockerfile', () => {
  it('skips the CUDA download before npm ci, through the environment (no project .npmrc key npm warns about)', () => {
    const ins = images.cpu.stages.flatMap((st) => st.instructions).map((i) => `${i.getKeyword()} ${content(i)}`);
    const env = ins.findIndex((l) => /^ENV ONNXRUNTIME_NODE_INSTALL=skip$/.test(l));
    const ci = ins.findIndex((l) => /^RUN .*npm ci$/.test(l));
    expect(env, ins.join('\n')).toBeGreaterThanOrEqual(0);
    expect(env).toBeLessThan(ci);
    expect(existsSync(join(repoRoot, '.npmrc'))).toBe(false);
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('keeps build output, caches and git out of the context', () => {
    for (const p of ['**/node_modules', '**/dist', '.git', '.cache']) expect(lines).toContain(p);
  });

  it('keeps in what the build reads: manifests, sources, models', () => {
    for (const needed of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json', 'libs', 'services', 'models']) {
      expect(lines.filter((l) => l === needed || l === `${needed}/` || l === `/${needed}`), needed).toEqual([]);
    }
    expect(lines.some((l) => l.startsWith('!'))).toBe(false);
  });

  it('the validator is live: it flags a broken Dockerfile', () => {
    expect(validate('FROM node:24-slim\nRUNN echo\n').length).toBeGreaterThan(0);
  });
});
