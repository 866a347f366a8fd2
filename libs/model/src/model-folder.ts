import { createHash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Files every model folder must hold (parity.jsonl is only needed by the parity test). */
export const REQUIRED_FILES = ['model.onnx', 'tokenizer.json', 'tokenizer_config.json', 'config.json'] as const;

/** What `config.json` says, validated. */
export interface ModelConfig {
  name: string;
  version: string;
  /** Class names in logit index order. */
  labels: string[];
  maxLength: number;
  dataset: string | null;
  sha256: string;
  /**
   * Texts longer than maxLength are read in windows starting this many body tokens apart, and
   * their logits averaged (config.json `window_stride`); null: they are cut at maxLength.
   */
  windowStride: number | null;
  /** The parsed file, for fields this library does not interpret (hyperparameters, dev_metrics). */
  raw: Record<string, unknown>;
}

export interface ModelFolder {
  /** Absolute path of the folder. */
  dir: string;
  modelPath: string;
  config: ModelConfig;
}

export interface ResolveOptions {
  /** Folder that holds named models; default: the repository's `models/` found above this package. */
  modelsDir?: string;
}

/** An error about a model folder: one line naming the folder and the problem. */
export class ModelFolderError extends Error {
  constructor(
    readonly dir: string,
    problem: string,
  ) {
    super(`model folder ${dir}: ${problem}`);
    this.name = 'ModelFolderError';
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * The repository's `models/` folder: the first `models` directory found walking up from this
 * module (libs/model/src or libs/model/dist), or null.
 */
export function defaultModelsDir(): string | null {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'models');
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * A folder path or a model name -> absolute folder path. A bare name (letters, digits, `.`, `_`,
 * `-`, no separator) that is not an existing folder relative to the working directory is looked
 * up under `modelsDir`.
 */
export function resolveModelDir(dirOrName: string, options: ResolveOptions = {}): string {
  if (dirOrName.trim() === '') throw new Error('model: empty model name or folder');
  const isName = NAME.test(dirOrName) && dirOrName !== '.' && dirOrName !== '..';
  if (!isName || existsSync(dirOrName)) return path.resolve(dirOrName);
  const modelsDir = options.modelsDir ?? defaultModelsDir();
  if (modelsDir === null) {
    throw new Error(`model ${dirOrName}: no models/ folder found above ${fileURLToPath(import.meta.url)}; pass a folder path or set MODELS_DIR`);
  }
  return path.resolve(modelsDir, dirOrName);
}

/** Reads and validates a model folder: required files, config.json, sha256 of model.onnx. */
export async function readModelFolder(dirOrName: string, options: ResolveOptions = {}): Promise<ModelFolder> {
  const dir = resolveModelDir(dirOrName, options);
  if (!existsSync(dir)) throw new ModelFolderError(dir, 'does not exist');
  if (!statSync(dir).isDirectory()) throw new ModelFolderError(dir, 'is not a folder');
  const missing = REQUIRED_FILES.filter((f) => !existsSync(path.join(dir, f)));
  if (missing.length > 0) throw new ModelFolderError(dir, `missing ${missing.join(', ')}`);

  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path.join(dir, 'config.json'), 'utf8'));
  } catch (err) {
    throw new ModelFolderError(dir, `config.json is not valid JSON (${(err as Error).message})`);
  }
  const config = parseConfig(dir, parsed);

  const modelPath = path.join(dir, 'model.onnx');
  const actual = await sha256File(modelPath);
  if (actual !== config.sha256) {
    throw new ModelFolderError(dir, `sha256 of model.onnx is ${actual}, config.json says ${config.sha256}`);
  }
  return { dir, modelPath, config };
}

function parseConfig(dir: string, value: unknown): ModelConfig {
  const bad = (problem: string): never => {
    throw new ModelFolderError(dir, `config.json: ${problem}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('not a JSON object');
  const raw = value as Record<string, unknown>;
  const str = (key: string): string => {
    const v = raw[key];
    return typeof v === 'string' && v.trim() !== '' ? v : bad(`"${key}" must be a non-empty string`);
  };
  const name = str('name');
  const version = str('version');
  const sha256 = str('sha256').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(sha256)) bad('"sha256" must be 64 hex digits');
  const labels = raw.labels;
  if (!Array.isArray(labels) || labels.length < 2 || !labels.every((l) => typeof l === 'string' && l !== '')) {
    return bad('"labels" must be a list of at least two non-empty strings');
  }
  if (new Set(labels).size !== labels.length) bad('"labels" has duplicates');
  const maxLength = raw.max_length;
  if (typeof maxLength !== 'number' || !Number.isInteger(maxLength) || maxLength < 1) {
    return bad('"max_length" must be a positive integer');
  }
  const dataset = raw.dataset;
  if (dataset !== undefined && typeof dataset !== 'string') bad('"dataset" must be a string');
  let windowStride: number | null = null;
  try {
    windowStride = parseWindowStride(raw);
  } catch (err) {
    bad((err as Error).message);
  }
  return { name, version, labels: labels as string[], maxLength, dataset: (dataset as string | undefined) ?? null, sha256, windowStride, raw };
}

/**
 * config.json's optional `window_stride`: a positive integer below max_length, or absent (null).
 * Read by readModelFolder and by the inference worker, which gets only the folder's path.
 */
export function parseWindowStride(raw: Record<string, unknown>): number | null {
  const stride = raw.window_stride;
  if (stride === undefined || stride === null) return null;
  const maxLength = raw.max_length;
  if (typeof stride !== 'number' || !Number.isInteger(stride) || stride < 1 || (typeof maxLength === 'number' && stride >= maxLength)) {
    throw new Error(`"window_stride" must be a positive integer below max_length, got ${JSON.stringify(stride)}`);
  }
  return stride;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
