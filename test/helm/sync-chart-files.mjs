#!/usr/bin/env node
// One source for the Prometheus rules and the Grafana dashboards: deploy/prometheus/rules/*.yml and
// deploy/grafana/**/*.json are the originals (Prometheus and Grafana in deploy/compose mount them as
// they are). Helm can only read files inside the chart (.Files), so this copies them, byte for byte,
// into helm/sentiment-stream/files/. Nobody edits the copies:
//
//   node test/helm/sync-chart-files.mjs           # write the copies (make helm-sync)
//   node test/helm/sync-chart-files.mjs --check   # exit 1 if any copy differs, is missing or is stale (make helm-check)
//
// Copies rather than symlinks: `helm package` and a Docker/OCI push would follow or drop links
// differently per platform, and a chart pulled from a registry must carry the real bytes.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import console from 'node:console';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const chartFiles = join(root, 'helm', 'sentiment-stream', 'files');

/** Each mirror: where the originals are, which of them, and the chart-local folder they go to. */
export const mirrors = [
  { from: join(root, 'deploy', 'prometheus', 'rules'), match: (f) => f.endsWith('.yml') || f.endsWith('.yaml'), recurse: false, to: join(chartFiles, 'prometheus') },
  { from: join(root, 'deploy', 'grafana'), match: (f) => f.endsWith('.json'), recurse: true, to: join(chartFiles, 'grafana') },
];

function walk(dir, recurse) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return recurse ? walk(p, recurse) : [];
    return e.isFile() ? [p] : [];
  });
}

/** The pairs [original, chart copy] that should exist, and the chart copies that should not. */
export function plan() {
  const pairs = [];
  const stale = [];
  for (const m of mirrors) {
    const sources = walk(m.from, m.recurse).filter((f) => m.match(f)).sort();
    const byName = new Map();
    for (const src of sources) {
      const name = basename(src);
      // The chart folder is flat (the ConfigMap keys are file names), so two originals may not share a name.
      if (byName.has(name)) throw new Error(`${relative(root, src)} and ${relative(root, byName.get(name))} would both become ${relative(root, join(m.to, name))}`);
      byName.set(name, src);
      pairs.push([src, join(m.to, name)]);
    }
    for (const copy of walk(m.to, false)) if (!byName.has(basename(copy))) stale.push(copy);
  }
  return { pairs, stale };
}

function main() {
  const check = process.argv.includes('--check');
  const { pairs, stale } = plan();
  const problems = [];
  for (const [src, dst] of pairs) {
    const same = existsSync(dst) && statSync(dst).isFile() && readFileSync(src).equals(readFileSync(dst));
    if (same) continue;
    if (check) problems.push(`${relative(root, dst)} differs from ${relative(root, src)}`);
    else {
      mkdirSync(dirname(dst), { recursive: true });
      copyFileSync(src, dst);
      console.log(`copied ${relative(root, src)} -> ${relative(root, dst)}`);
    }
  }
  for (const copy of stale) {
    if (check) problems.push(`${relative(root, copy)} has no original any more`);
    else {
      rmSync(copy);
      console.log(`removed ${relative(root, copy)} (no original)`);
    }
  }
  if (problems.length > 0) {
    console.error(`helm chart files out of date — run \`make helm-sync\` (node test/helm/sync-chart-files.mjs):\n  ${problems.join('\n  ')}`);
    process.exit(1);
  }
  if (check) console.log(`helm chart files: ${pairs.length} identical to their originals`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
