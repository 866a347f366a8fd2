export {
  deadLetterCodes,
  decodeInput,
  MAX_ID_BYTES,
  type DeadLetterCode,
  type DecodeOptions,
  type Decoded,
  type InputFormat,
  type SourceRecord,
} from './input.js';
export { CLOUDEVENTS_SPEC_VERSION, cloudEventId, cloudEventSource, cloudEventTypes } from './cloudevents.js';
export {
  deadLetterMessage,
  eventMessage,
  fitMessage,
  messageBytes,
  skippedRecordsMessage,
  withTraceContext,
  type FitOptions,
  type HeaderValue,
  type OutboundMessage,
  type TraceHeaders,
} from './outputs.js';
export { sentimentEvent, sentimentV1Schema, timestampMs, type Scored, type SentimentEventV1 } from './sentiment-v1.js';
