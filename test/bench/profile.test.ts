import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { summarizeAllocations } from './profile.js';

const frame = (functionName: string, url: string, selfSize: number, children: unknown[] = []) => ({ callFrame: { functionName, url }, selfSize, children });

describe('summarizeAllocations', () => {
  it("counts the bytes of builtins and of Node's code for the package that called them, per message, by category", () => {
    const head = frame('(root)', '', 0, [
      frame('messageBytes', 'file:///repo/libs/events/dist/outputs.js', 1_000, [frame('entries', '', 3_000)]),
      frame('writeVarInt', 'file:///repo/node_modules/@platformatic/dynamic-buffer/dist/index.js', 0, [
        frame('prepareRecordsBatch', 'file:///repo/node_modules/@platformatic/kafka/dist/protocol/records.js', 4_000, [
          frame('allocUnsafe', 'node:buffer', 0, [frame('Uint8Array', '', 2_000)]),
        ]),
      ]),
      // Node's own bytes with no package above them (a socket read) stay Node's.
      frame('onStreamRead', 'node:internal/stream_base_commons', 500),
    ]);
    const file = join(mkdtempSync(join(tmpdir(), 'alloc-')), 'main.heapprofile');
    writeFileSync(file, JSON.stringify({ head, samples: [] }));
    const a = summarizeAllocations(file, 10);
    expect(a.bytes_per_msg).toBe(1_050);
    expect(a.categories).toEqual({ 'events (decode input / encode event JSON)': 400, '@platformatic/kafka': 600, 'node internals (net, streams, buffers, timers)': 50 });
    expect(a.top.map((f) => [f.function, f.where, f.bytes_per_msg, f.pct])).toEqual([
      ['prepareRecordsBatch', '@platformatic/kafka/dist/protocol/records.js', 400, 38.1],
      ['entries in messageBytes', 'libs/events/dist/outputs.js', 300, 28.6],
      ['Uint8Array in prepareRecordsBatch', '@platformatic/kafka/dist/protocol/records.js', 200, 19],
      ['messageBytes', 'libs/events/dist/outputs.js', 100, 9.5],
      ['onStreamRead', 'node:internal/stream_base_commons', 50, 4.8],
    ]);
  });
});
