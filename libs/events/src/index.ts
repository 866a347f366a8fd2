export {
  deadLetterCodes,
  decodeInput,
  type DeadLetterCode,
  type DecodeOptions,
  type Decoded,
  type InputFormat,
  type SourceRecord,
} from './input.js';
export { deadLetterMessage, eventMessage, type OutboundMessage } from './outputs.js';
export { sentimentEvent, sentimentV1Schema, type Scored, type SentimentEventV1 } from './sentiment-v1.js';
