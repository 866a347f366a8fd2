import { murmur2 } from '@platformatic/kafka';

/**
 * The Java client's default partition for a keyed record: murmur2 of the key, made positive by
 * masking the sign bit (`Utils.toPositive`), modulo the partition count. Both client libraries get
 * partitions from here, so a key lands where any other Kafka client would put it (per-key order
 * downstream holds whichever client wrote it). @platformatic/kafka's own default partitioner uses
 * `>>> 0` instead of the mask, which differs from Java for half of all keys.
 */
export function partitionFor(key: Buffer, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}
