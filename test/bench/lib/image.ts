// The runtime environment the container image gives the scorer, read from the image's own
// Dockerfile, so the bench measures the process the image runs (its V8 flags) and the flag lives in
// one place: deploy/docker/Dockerfile.
import { readFileSync } from 'node:fs';
import { DockerfileParser, type Env } from 'dockerfile-ast';

const DOCKERFILE = new URL('../../../deploy/docker/Dockerfile', import.meta.url);
/** Of the runtime stage's ENV, what changes the scorer process itself (NODE_ENV and HOME do not). */
const PROCESS_SETTINGS = ['NODE_OPTIONS', 'MALLOC_ARENA_MAX'];

/** The runtime stage's (the last stage's) ENV values of PROCESS_SETTINGS. */
export function imageRuntimeEnv(text = readFileSync(DOCKERFILE, 'utf8')): Record<string, string> {
  const instructions = DockerfileParser.parse(text).getInstructions();
  const lastFrom = instructions.map((i) => i.getKeyword()).lastIndexOf('FROM');
  const env: Record<string, string> = {};
  for (const ins of instructions.slice(lastFrom + 1)) {
    if (ins.getKeyword() !== 'ENV') continue;
    for (const p of (ins as Env).getProperties()) {
      const name = p.getName();
      if (PROCESS_SETTINGS.includes(name)) env[name] = p.getValue() ?? '';
    }
  }
  return env;
}
