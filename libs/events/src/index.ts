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
export { deadLetterMessage, eventMessage, fitMessage, messageBytes, type FitOptions, type HeaderValue, type OutboundMessage } from './outputs.js';
export { sentimentEvent, sentimentV1Schema, timestampMs, type Scored, type SentimentEventV1 } from './sentiment-v1.js';
