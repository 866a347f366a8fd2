export { createKafka, type Logger } from './client.js';
export { registerKafkajsCodecs } from './codecs.js';
export { tpKey, type Assignment, type Driver, type DriverHandlers, type PartitionOffset, type PlacedMessage, type TopicInfo, type TopicPartition } from './driver.js';
export { classifyKafkaError, describeKafkaError, kafkaErrorCodes, type ErrorKind, type KafkaErrorInfo } from './errors.js';
export { createKafkaTransport, type KafkaTransportOptions } from './kafka-transport.js';
export { computeLag, createLagReader, totalLag, type CommittedOffset, type LagReader, type LagSnapshot, type PartitionLag, type Watermarks } from './lag.js';
export { partitionFor } from './partitioner.js';
export {
  KAFKA_CLIENTS,
  checkKafkaSettings,
  checkTransportSettings,
  kafkaSettings,
  transportSettings,
  type KafkaClientName,
  type KafkaSettings,
  type TransportSettings,
} from './settings.js';
export { createTransport, type Delivery, type Handlers, type InputBatch, type Transport, type TransportEvent, type TransportObserver, type TransportOptions } from './transport.js';
