import type { SourceRecord } from './input.js';

/**
 * CloudEvents 1.0, Kafka protocol binding, binary content mode: the event's attributes travel as
 * `ce_<attribute>` headers, `datacontenttype` as `content-type`, the data is the record's value and
 * the record's key stays the Kafka key (the binding's key mapping: the `partitionkey` extension a
 * reader derives from it). Event routers, Knative's KafkaSource and the CloudEvents SDKs read these
 * without knowing our payloads. The mapping is documented in docs/events.md.
 */
export const CLOUDEVENTS_SPEC_VERSION = '1.0';

export const cloudEventTypes = {
  event: 'dev.sentiment-stream.sentiment.v1',
  'dead-letter': 'dev.sentiment-stream.dead-letter.v1',
} as const;

/** The `ce_*` headers the scorer sets; a dead letter moves an input's own headers of these names aside (see outputs.ts). */
export const cloudEventHeaderNames = ['ce_specversion', 'ce_id', 'ce_source', 'ce_type', 'ce_time', 'ce_subject'] as const;

/**
 * `source`: the scorer reading one input topic, as a URI reference. Kafka topic names are
 * `[a-zA-Z0-9._-]`, all URI-safe, so the topic goes in as it is.
 */
export function cloudEventSource(inputTopic: string): string {
  return `/sentiment-stream/scorer/${inputTopic}`;
}

/**
 * `id`: derived from the input's coordinates, so a re-delivered input (after a crash or a
 * rebalance) yields the same id and readers can drop the duplicate on `source` + `id`. The event
 * and a dead letter for the same input are different occurrences and get different ids (a record
 * can go to the dead-letter topic once and be scored on a later delivery, INFERENCE_FAILED).
 */
export function cloudEventId(kind: keyof typeof cloudEventTypes, record: Pick<SourceRecord, 'topic' | 'partition' | 'offset'>): string {
  const coordinates = `${record.topic}-${record.partition}-${record.offset}`;
  return kind === 'event' ? coordinates : `${coordinates}-dlq`;
}

export function cloudEventHeaders(
  kind: keyof typeof cloudEventTypes,
  record: Pick<SourceRecord, 'topic' | 'partition' | 'offset'>,
  time: string,
  subject?: string,
): Record<string, string> {
  return {
    ce_specversion: CLOUDEVENTS_SPEC_VERSION,
    ce_id: cloudEventId(kind, record),
    ce_source: cloudEventSource(record.topic),
    ce_type: cloudEventTypes[kind],
    ce_time: time,
    ...(subject !== undefined ? { ce_subject: subject } : {}),
  };
}
