// The model folders the benchmark gives a row each: every shipped model and option of the bench
// model's dataset (models/, models/options/), and the plain from-scratch BiLSTM out of git history
// when the shipped one has become the distilled one.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

export interface ModelSpec {
  /** Row name: config.json name and version. */
  label: string;
  /** Absolute folder path (what MODEL is set to). */
  dir: string;
  name: string;
  version: string;
  /** What it is, for a user choosing: BiLSTM, distilled BiLSTM, int8 BiLSTM, transformer. */
  kind: string;
  transformer: boolean;
  dataset: string | null;
  labels: string[];
  /** config.json dev_metrics.accuracy (the model card's figure), or null. */
  dev_accuracy: number | null;
  /** Where the folder came from: models/..., or git:<commit>:models/... */
  source: string;
}

type Config = Record<string, unknown> & {
  name: string;
  version: string;
  labels: string[];
  dataset?: string;
  dev_metrics?: { accuracy?: number };
  hyperparameters?: Record<string, unknown>;
};

const distilled = (c: Config) => {
  const hp = c.hyperparameters ?? {};
  return 'alpha' in hp || 'soft' in hp || 'teacher' in c || 'distillation' in c || /distil/i.test(JSON.stringify(c.training ?? ''));
};

export function describeModel(dir: string, source: string): ModelSpec {
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Config;
  const transformer = /minilm|transformer|bert/i.test(String(c.architecture ?? '')) || 'teacher_source' in c;
  const int8 = 'quantization' in c || /int8/i.test(String(c.architecture ?? ''));
  const kind = transformer ? `transformer${int8 ? ' (int8)' : ''}` : `${int8 ? 'int8 ' : ''}${distilled(c) ? 'distilled ' : ''}BiLSTM`;
  return {
    label: `${c.name} ${c.version}`,
    dir,
    name: c.name,
    version: c.version,
    kind,
    transformer,
    dataset: c.dataset ?? null,
    labels: c.labels,
    dev_accuracy: c.dev_metrics?.accuracy ?? null,
    source,
  };
}

const git = (root: string, args: string[]) => execFileSync('git', args, { cwd: root, encoding: 'buffer', maxBuffer: 256 << 20, stdio: ['ignore', 'pipe', 'ignore'] });

/**
 * `git:<rev>:models/<name>` -> that folder as it was at <rev>, written under `into` (model.onnx,
 * tokenizer files, config.json, emoji.json when present).
 */
export function exportFromGit(root: string, rev: string, path: string, into: string): string {
  const commit = git(root, ['rev-parse', '--short=12', rev]).toString().trim();
  const files = git(root, ['ls-tree', '--name-only', `${commit}:${path}`]).toString().trim().split('\n');
  const out = join(into, `${basename(path)}@${commit}`);
  mkdirSync(out, { recursive: true });
  for (const f of files) {
    if (!['model.onnx', 'tokenizer.json', 'tokenizer_config.json', 'config.json', 'emoji.json'].includes(f)) continue;
    writeFileSync(join(out, f), git(root, ['show', `${commit}:${path}/${f}`]));
  }
  return out;
}

/**
 * The models to give rows, in the order: the bench model first, then the others of its dataset.
 * `list` (BENCH_MODELS): names under models/, folder paths, or git:<rev>:<path>.
 */
export function modelSpecs(root: string, benchModel: string, list: string[] | null, tmpDir: string): ModelSpec[] {
  const resolveOne = (s: string): ModelSpec => {
    if (s.startsWith('git:')) {
      const [, rev, path] = s.split(':');
      return describeModel(exportFromGit(root, rev!, path!, join(tmpDir, 'models')), s);
    }
    const dir = existsSync(resolve(root, s)) ? resolve(root, s) : resolve(root, 'models', s);
    if (!existsSync(join(dir, 'config.json'))) throw new Error(`BENCH_MODELS: no model folder ${dir}`);
    return describeModel(dir, dir.slice(root.length));
  };
  if (list) return list.map(resolveOne);
  const main = resolveOne(benchModel);
  const out = [main];
  for (const parent of ['models', 'models/options']) {
    const d = join(root, parent);
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d).sort()) {
      const dir = join(d, name);
      if (dir === main.dir || !existsSync(join(dir, 'config.json')) || !existsSync(join(dir, 'model.onnx'))) continue;
      const spec = describeModel(dir, `${parent}/${name}`);
      if (spec.dataset === main.dataset) out.push(spec);
    }
  }
  // The shipped BiLSTM distilled: the plain one it replaced, from git, for the row "BiLSTM".
  if (main.kind === 'distilled BiLSTM' && !out.some((m) => m.kind === 'BiLSTM')) {
    const path = `models/${main.name}`;
    try {
      const commits = git(root, ['log', '--format=%H', '--', `${path}/config.json`]).toString().trim().split('\n').filter(Boolean);
      for (const c of commits) {
        const cfg = JSON.parse(git(root, ['show', `${c}:${path}/config.json`]).toString()) as Config;
        if (!distilled(cfg)) {
          out.push(describeModel(exportFromGit(root, c, path, join(tmpDir, 'models')), `git:${c.slice(0, 12)}:${path}`));
          break;
        }
      }
    } catch {
      // not a git checkout: no plain row
    }
  }
  return out;
}
