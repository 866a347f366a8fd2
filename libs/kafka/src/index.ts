export { createKafka, type Logger } from './client.js';
export { OffsetTracker, byTopicPartitions, type TopicPartitionOffset } from './offset-tracker.js';
export { checkKafkaSettings, kafkaSettings, type KafkaSettings } from './settings.js';
export { createSink, type Delivery, type Sink } from './sink.js';
export { Source, type Assignment, type SourceHandler, type SourceOptions } from './source.js';
export { computeLag, createLagReader, totalLag, type CommittedOffset, type LagReader, type LagSnapshot, type PartitionLag, type Watermarks } from './lag.js';
