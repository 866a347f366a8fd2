// How the container image runs node, read from the image's own Dockerfile, so the bench measures
// the process the image runs (its V8 flags and runtime env) and each flag lives in one place:
// deploy/docker/Dockerfile.
import { readFileSync } from 'node:fs';
import { DockerfileParser, type Env, type Instruction } from 'dockerfile-ast';

const DOCKERFILE = new URL('../../../deploy/docker/Dockerfile', import.meta.url);
/** Of the runtime stage's ENV, what changes the scorer process itself (NODE_ENV and HOME do not). */
const PROCESS_SETTINGS = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'];

export interface ImageRuntime {
  /** The runtime stage's ENV values of PROCESS_SETTINGS. */
  env: Record<string, string>;
  /** Node's own flags on the exec-form ENTRYPOINT: what comes between `node` and the script. */
  nodeArgs: string[];
}

/** The runtime (last) stage's process settings and node flags. */
export function imageRuntime(text = readFileSync(DOCKERFILE, 'utf8')): ImageRuntime {
  const instructions = DockerfileParser.parse(text).getInstructions();
  const lastFrom = instructions.map((i) => i.getKeyword()).lastIndexOf('FROM');
  const runtime = instructions.slice(lastFrom + 1);
  const env: Record<string, string> = {};
  for (const ins of runtime) {
    if (ins.getKeyword() !== 'ENV') continue;
    for (const p of (ins as Env).getProperties()) {
      const name = p.getName();
      if (PROCESS_SETTINGS.includes(name)) env[name] = p.getValue() ?? '';
    }
  }
  return { env, nodeArgs: entrypointNodeArgs(runtime.filter((i) => i.getKeyword() === 'ENTRYPOINT').pop()) };
}

function entrypointNodeArgs(entrypoint: Instruction | undefined): string[] {
  if (!entrypoint) return [];
  let argv: unknown;
  try {
    argv = JSON.parse(entrypoint.getArgumentsContent() ?? '');
  } catch {
    argv = null;
  }
  if (!Array.isArray(argv)) throw new Error('the runtime ENTRYPOINT is not in exec form (a JSON array)');
  const node = argv.indexOf('node');
  if (node < 0) return [];
  const flags: string[] = [];
  for (const a of argv.slice(node + 1) as string[]) {
    if (!a.startsWith('-')) break;
    flags.push(a);
  }
  return flags;
}
