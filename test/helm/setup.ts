// vitest globalSetup for test/helm: builds the Helm harness (test/helm/pom.xml) when it is missing or
// older than its sources. The first build resolves helm-java from Maven Central into ~/.m2; after
// that Maven works offline.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { here } from './render.js';

export default function setup(): void {
  const stamp = join(here, 'target', 'classpath.txt');
  const sources = [join(here, 'pom.xml'), join(here, 'src', 'main', 'java', 'sentimentstream', 'helm', 'HelmRender.java')];
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  if (sources.every((s) => statSync(s).mtimeMs < built)) return;
  execFileSync('mvn', ['-q', '-B', '-f', join(here, 'pom.xml'), 'package'], { stdio: 'inherit', timeout: 300_000 });
}
