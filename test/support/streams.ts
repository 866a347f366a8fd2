// Known input streams for scorer suites, and the checks that prove nothing was lost.
import type { IHeaders, Kafka } from 'kafkajs';
import { expect } from 'vitest';
import { createProducer, type ReadMessage } from './kafka.js';

export const SAMPLE_TEXTS = [
  'An absolute delight from start to finish.',
  "I didn't like it at all, the plot was a mess.",
  'The service was slow but the food was great.',
  'Worst purchase I have ever made 😡',
  'It arrived on Tuesday.',
  "This phone's battery doesn't last a day.",
  'Loved every minute, highly recommended! 😍',
  'meh',
];

export interface SentMessage {
  id: string;
  key: string;
  seq: number;
}

/** Sends `count` JSON messages `{id, text, seq}` over `keys` keys; returns what was sent. */
export async function produceTexts(
  kafka: Kafka,
  topic: string,
  count: number,
  opts: { keys?: number; idPrefix?: string; headers?: IHeaders } = {},
): Promise<SentMessage[]> {
  const keys = opts.keys ?? 100;
  const prefix = opts.idPrefix ?? 'm';
  const producer = createProducer(kafka, { idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const sent: SentMessage[] = [];
  try {
    for (let start = 0; start < count; start += 1_000) {
      const messages = [];
      for (let i = start; i < Math.min(start + 1_000, count); i++) {
        const m = { id: `${prefix}-${i}`, key: `k-${i % keys}`, seq: Math.floor(i / keys) };
        sent.push(m);
        const text = `${SAMPLE_TEXTS[i % SAMPLE_TEXTS.length]} #${i}`;
        messages.push({ key: m.key, value: JSON.stringify({ id: m.id, text, seq: m.seq }), ...(opts.headers ? { headers: opts.headers } : {}) });
      }
      await producer.send({ topic, messages });
    }
  } finally {
    await producer.disconnect();
  }
  return sent;
}

export interface EventView {
  id: string;
  key: string | null;
  label: string;
  offset: bigint;
  partition: number;
  raw: Record<string, unknown>;
}

export function parseEvents(messages: ReadMessage[]): EventView[] {
  return messages.map((m) => {
    const raw = JSON.parse(m.value ?? 'null') as Record<string, unknown> & { source: { offset: string; partition: number } };
    return { id: raw.id as string, key: m.key, label: raw.label as string, offset: BigInt(raw.source.offset), partition: raw.source.partition, raw };
  });
}

/** Ids sent but never seen, and ids seen more than once. */
export function accounting(sent: { id: string }[], seen: { id: string }[]) {
  const counts = new Map<string, number>();
  for (const { id } of seen) counts.set(id, (counts.get(id) ?? 0) + 1);
  const missing = sent.filter(({ id }) => !counts.has(id)).map(({ id }) => id);
  const duplicates = [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  return { missing, duplicates };
}

/** Within each key, events arrive in the order of their source offsets (first sighting of each id). */
export function expectPerKeyOrder(events: EventView[]): void {
  const lastByKey = new Map<string, bigint>();
  const seen = new Set<string>();
  let checked = 0;
  for (const e of events) {
    if (seen.has(e.id)) continue; // a re-delivered duplicate replays an earlier stretch
    seen.add(e.id);
    const last = lastByKey.get(e.key ?? '');
    if (last !== undefined) expect(e.offset > last, `key ${e.key}: offset ${e.offset} after ${last}`).toBe(true);
    lastByKey.set(e.key ?? '', e.offset);
    checked++;
  }
  expect(checked).toBeGreaterThan(0);
}
