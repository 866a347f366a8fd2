import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { partitionFor } from './partitioner.js';

// kafkajs's DefaultPartitioner is its port of the Java client's: the reference here.
const require = createRequire(import.meta.url);
const javaCompatible = require('kafkajs/src/producer/partitioners/default/murmur2.js') as (key: Buffer) => number;

describe('partitionFor', () => {
  it("puts every key where the Java client's default partitioner does", () => {
    for (let i = 0; i < 2_000; i++) {
      const key = Buffer.from(`user-${i * 7919}`);
      for (const n of [1, 3, 6, 7, 64]) expect(partitionFor(key, n)).toBe((javaCompatible(key) & 0x7fffffff) % n);
    }
  });

  it("matches Kafka's own murmur2 test vector", () => {
    // UtilsTest.testMurmur2: murmur2("21".getBytes()) == -973932308; toPositive masks the sign bit.
    expect(partitionFor(Buffer.from('21'), 2 ** 31 - 1)).toBe((-973932308 & 0x7fffffff) % (2 ** 31 - 1));
    expect(partitionFor(Buffer.from('21'), 2 ** 31 - 1)).toBe(1173551340);
  });
});
