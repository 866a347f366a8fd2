import { readFileSync } from 'node:fs';
import { ConfigError } from './errors.js';

/**
 * One environment variable: how to read it, its default, and a line for the docs.
 * A setting parses the raw string (or undefined when unset) into a typed value, or throws ConfigError.
 */
export interface Setting<T> {
  readonly doc: string;
  readonly defaultText: string;
  readonly secret: boolean;
  parse(variable: string, raw: string | undefined): T;
}

export type Schema = Record<string, Setting<unknown>>;
export type ConfigOf<S extends Schema> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

interface Common<T> {
  doc: string;
  default?: T;
  /** Secrets may also come from a mounted file named by `<VARIABLE>_FILE`, and are never logged. */
  secret?: boolean;
}

function setting<T>(
  opts: Common<T>,
  allowed: string,
  convert: (raw: string) => T | undefined,
  show: (value: T) => string = String,
): Setting<T> {
  return {
    doc: opts.doc,
    defaultText: opts.default === undefined ? '(required)' : show(opts.default),
    secret: opts.secret ?? false,
    parse(variable, raw) {
      if (raw === undefined) {
        if (opts.default !== undefined) return opts.default;
        throw new ConfigError(variable, `is required: ${allowed}`);
      }
      if (raw.trim() === '') throw emptyError(variable, opts.default === undefined ? undefined : show(opts.default), allowed);
      const value = convert(raw.trim());
      if (value === undefined) {
        const shown = opts.secret ? '(hidden)' : JSON.stringify(raw);
        throw new ConfigError(variable, `must be ${allowed} (got ${shown})`);
      }
      return value;
    },
  };
}

export function string(opts: Common<string>): Setting<string> {
  return setting(opts, 'a non-empty string', (raw) => raw);
}

/** Optional string: unset is `undefined`; set but empty is an error like any other empty value. */
export function optionalString(opts: Omit<Common<string>, 'default'>): Setting<string | undefined> {
  return {
    doc: opts.doc,
    defaultText: '(unset)',
    secret: opts.secret ?? false,
    parse(variable, raw) {
      if (raw === undefined) return undefined;
      if (raw.trim() === '') throw emptyError(variable, undefined, 'a non-empty string');
      return raw.trim();
    },
  };
}

/**
 * A variable that is set but empty (`KAFKA_BROKERS=`) is a mistake, usually a template that
 * rendered nothing; silently taking the default would point a production scorer at 127.0.0.1.
 */
function emptyError(variable: string, defaultText: string | undefined, allowed: string): ConfigError {
  return new ConfigError(variable, `is set but empty: give ${allowed}, or unset it${defaultText === undefined ? '' : ` for the default (${defaultText})`}`);
}

export function integer(opts: Common<number> & { min: number; max: number }): Setting<number> {
  return setting(opts, `an integer from ${opts.min} to ${opts.max}`, (raw) => {
    if (!/^-?\d+$/.test(raw)) return undefined;
    const n = Number(raw);
    return n >= opts.min && n <= opts.max ? n : undefined;
  });
}

export function boolean(opts: Common<boolean>): Setting<boolean> {
  const words: Record<string, boolean> = { true: true, '1': true, yes: true, false: false, '0': false, no: false };
  return setting(opts, 'true or false', (raw) => words[raw.toLowerCase()]);
}

export function oneOf<const V extends string>(values: readonly V[], opts: Common<V>): Setting<V> {
  return setting(opts, `one of ${values.join(', ')}`, (raw) =>
    (values as readonly string[]).includes(raw) ? (raw as V) : undefined,
  );
}

/** Comma-separated list; each item trimmed, empties dropped, optionally restricted to `values`. */
export function list<const V extends string = string>(
  opts: Common<V[]> & { values?: readonly V[] },
): Setting<V[]> {
  const allowed = opts.values
    ? `a comma-separated list of ${opts.values.join(', ')}`
    : 'a comma-separated list of non-empty names';
  return setting(
    opts,
    allowed,
    (raw) => {
      const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (items.length === 0) return undefined;
      if (opts.values && !items.every((i) => (opts.values as readonly string[]).includes(i))) return undefined;
      return items as V[];
    },
    (value) => value.join(','),
  );
}

/**
 * Reads every variable of `schema` from `env` and returns the typed config, or throws the first
 * ConfigError. `<NAME>_FILE` is honoured for secret settings (Kubernetes-mounted secrets).
 */
export function loadConfig<S extends Schema>(schema: S, env: NodeJS.ProcessEnv = process.env): ConfigOf<S> {
  const out: Record<string, unknown> = {};
  for (const [variable, s] of Object.entries(schema)) {
    out[variable] = s.parse(variable, rawValue(variable, s, env));
  }
  return out as ConfigOf<S>;
}

function rawValue(variable: string, s: Setting<unknown>, env: NodeJS.ProcessEnv): string | undefined {
  const file = s.secret ? env[`${variable}_FILE`] : undefined;
  if (file === undefined || file === '') return env[variable];
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new ConfigError(`${variable}_FILE`, `names a file that cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Markdown table rows for docs/configuration.md, so the docs and the schema cannot drift. */
export function describeSchema(schema: Schema): string {
  const rows = Object.entries(schema).map(
    ([variable, s]) => `| \`${variable}\` | ${s.defaultText === '(required)' || s.defaultText === '(unset)' ? s.defaultText : `\`${s.defaultText}\``} | ${s.doc}${s.secret ? ` Also \`${variable}_FILE\`.` : ''} |`,
  );
  return ['| variable | default | meaning |', '|---|---|---|', ...rows].join('\n');
}
