// Property-based fuzzing of every record field through the real decode -> event -> output path:
// whatever a producer writes, decoding never throws, and the record gets exactly one output that
// fits its topic: an event that satisfies the sentiment.v1 schema, or a dead letter with a code.
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { Kafka, type CloudEvent, type KafkaMessage } from 'cloudevents';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  deadLetterCodes,
  deadLetterMessage,
  decodeInput,
  eventMessage,
  fitMessage,
  messageBytes,
  sentimentEvent,
  sentimentV1Schema,
  type DecodeOptions,
  type OutboundMessage,
  type SourceRecord,
} from './index.js';

/** The message as a CloudEvents reader gets it: header values decoded as UTF-8 (the SDK keeps one value per name). */
function received(m: OutboundMessage): KafkaMessage<unknown> {
  // A header given as an empty list is not sent at all.
  const sent = Object.entries(m.headers).flatMap(([name, v]) => ([v].flat().length > 0 ? [[name, Buffer.from([v].flat().at(-1)!).toString('utf8')]] : []));
  const headers = Object.fromEntries(sent) as Record<string, string>;
  return { key: m.key?.toString('utf8') ?? '', value: m.value, headers } as KafkaMessage<unknown>;
}

const ajv = new Ajv2020({ strict: true, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validate = ajv.compile(sentimentV1Schema);

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));
/** JSON values a producer might send, with the text and id fields sometimes present and odd. */
const jsonValue = fc.oneof(
  fc.record({ text: fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constant(''), fc.integer(), fc.constant(null)), id: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.object(), fc.string({ minLength: 1000, maxLength: 1100 })) }, { requiredKeys: [] }),
  fc.jsonValue(),
).map((v) => Buffer.from(JSON.stringify(v) ?? 'null'));
const value = fc.oneof(jsonValue, bytes(300), fc.string({ unit: 'binary' }).map((s) => Buffer.from(s)), fc.constant(null));
/** Every int64 a record may carry as its timestamp, the edges of Date's range and -1 among them. */
const timestamp = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(-1n, 0n, 8_640_000_000_000_000n, 8_640_000_000_000_001n, -8_640_000_000_000_001n, -62_167_219_200_001n, 253_402_300_800_000n),
).map(String);
const headerValue = fc.oneof(bytes(64), fc.string(), fc.array(fc.oneof(bytes(16), fc.string()), { maxLength: 3 }));
/** Any name, and the names a CloudEvents reader looks at (an input may itself be a CloudEvent). */
const headerName = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('content-type', 'Content-Type', 'ce_id', 'ce_type', 'ce_specversion', 'CE_SOURCE', 'ce_x', 'traceparent'));
const record = fc.record({
  topic: fc.constant('in'),
  partition: fc.nat(1000),
  offset: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
  timestamp,
  key: fc.oneof(fc.constant(null), bytes(200)),
  value,
  headers: fc.dictionary(headerName, headerValue, { maxKeys: 5 }),
}) as fc.Arbitrary<SourceRecord>;

const options: DecodeOptions[] = [
  { format: 'json', textField: 'text', idField: 'id', maxTextBytes: 200 },
  { format: 'text', textField: 'text', idField: 'id', maxTextBytes: 200 },
];
const model = { name: 'm', version: '1', provider: 'cpu' };
const scored = { label: 'positive', score: 0.75, probabilities: { negative: 0.25, positive: 0.75 } };

describe('fuzzing the decode -> event path', () => {
  it('never throws, and every record gets one valid event or one coded dead letter that fits', () => {
    fc.assert(
      fc.property(record, fc.constantFrom(...options), fc.integer({ min: 1_000, max: 4_000 }), (r, opts, maxBytes) => {
        const decoded = decodeInput(r, opts);
        const out = decoded.ok
          ? eventMessage('out', r, sentimentEvent(r, decoded.id, scored, model, 1_800_000_000_000))
          : deadLetterMessage('dlq', r, decoded.code, decoded.reason);
        if (decoded.ok) {
          const event = JSON.parse(out.value!.toString());
          expect(validate(event), JSON.stringify(validate.errors)).toBe(true);
        } else {
          expect(deadLetterCodes).toContain(decoded.code);
        }
        const fitted = fitMessage(out, r, { maxBytes, dlqTopic: 'dlq', prefixBytes: 256 });
        expect(messageBytes(fitted)).toBeLessThanOrEqual(maxBytes);
        if (fitted.kind === 'dead-letter') expect(deadLetterCodes).toContain(String(fitted.headers['x-error-code']));
        // Whatever headers the input carried (ce_* and content-type among them), the output is a valid
        // CloudEvent of its own type (the SDK refuses a null value, which a tombstone's dead letter has).
        if (fitted.value !== null) {
          const ce = Kafka.toEvent(received(fitted)) as CloudEvent<unknown>;
          expect(ce.validate()).toBe(true);
          expect(ce.type).toBe(fitted.kind === 'event' ? 'dev.sentiment-stream.sentiment.v1' : 'dev.sentiment-stream.dead-letter.v1');
        }
      }),
      { numRuns: 2_000, seed: Number(process.env.FUZZ_SEED ?? 20261202) },
    );
  });
});
