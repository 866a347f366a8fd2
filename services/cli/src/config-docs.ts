import { describeSchema, type Schema } from '@sentiment-stream/config';
import { sidecarSettings } from '@sentiment-stream/metrics-sidecar';
import { scorerSettings } from '@sentiment-stream/scorer';

/** The sections of docs/configuration.md that are generated from the processes' schemas. */
export const configSections: Record<string, Schema> = { scorer: scorerSettings, sidecar: sidecarSettings };

/** `doc` with every `<!-- NAME:begin -->…<!-- NAME:end -->` section replaced by its generated table. */
export function renderConfigDoc(doc: string): string {
  let out = doc;
  for (const [name, schema] of Object.entries(configSections)) {
    const begin = `<!-- ${name}:begin -->\n`;
    const end = `\n<!-- ${name}:end -->`;
    const from = out.indexOf(begin);
    const to = out.indexOf(end);
    if (from < 0 || to < from) throw new Error(`docs/configuration.md has no ${name} section markers`);
    out = out.slice(0, from + begin.length) + describeSchema(schema) + out.slice(to);
  }
  return out;
}
