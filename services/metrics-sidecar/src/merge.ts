/**
 * Merging two pages of the Prometheus text exposition format (version 0.0.4). A metric family is
 * its `# HELP`/`# TYPE` lines and its samples; a page must not hold one family twice, so families
 * of the scraped page whose name the sidecar already exports are dropped (the sidecar's own wins).
 */

export interface MetricFamily {
  name: string;
  lines: string[];
}

export interface MergedExposition {
  text: string;
  /** Names of scraped families left out because the sidecar exports a family of the same name. */
  dropped: string[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
/** Sample suffixes that belong to the family named without them (histograms, summaries, counters). */
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created'];

function belongsTo(sample: string, family: string): boolean {
  return sample === family || SUFFIXES.some((s) => sample === family + s);
}

/** Splits a page into metric families, in order. Blank lines and `# EOF` are dropped. */
export function metricFamilies(text: string): MetricFamily[] {
  const families: MetricFamily[] = [];
  let current: MetricFamily | undefined;
  const start = (name: string) => {
    current = { name, lines: [] };
    families.push(current);
    return current;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.trim() === '# EOF') continue;
    if (line.startsWith('#')) {
      const meta = /^#\s+(?:HELP|TYPE)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
      if (meta) {
        const name = meta[1]!;
        (current?.name === name ? current : start(name)).lines.push(line);
      } else if (current) {
        current.lines.push(line); // a free comment stays with the family it sits in
      }
      continue;
    }
    const name = NAME.exec(line)?.[0];
    if (name === undefined) continue; // not a sample line; skipping it keeps the page parseable
    (current !== undefined && belongsTo(name, current.name) ? current : start(name)).lines.push(line);
  }
  return families;
}

/** The sidecar's own page first, then every scraped family whose name it does not already export. */
export function mergeExpositions(own: string, scraped: string): MergedExposition {
  const ownFamilies = metricFamilies(own);
  const taken = new Set(ownFamilies.map((f) => f.name));
  const kept: MetricFamily[] = [];
  const dropped: string[] = [];
  for (const family of metricFamilies(scraped)) {
    if (taken.has(family.name)) dropped.push(family.name);
    else kept.push(family);
  }
  const lines = [...ownFamilies, ...kept].flatMap((f) => f.lines);
  return { text: lines.length === 0 ? '' : `${lines.join('\n')}\n`, dropped };
}
