import { describe, expect, it } from 'vitest';
import { dropAbortedRecords, type FetchedBatch } from './aborted.js';

const marker = (producerId: bigint, offset: bigint, abort: boolean): FetchedBatch => {
  const key = Buffer.alloc(4);
  key.writeInt16BE(abort ? 0 : 1, 2);
  return { firstOffset: offset, lastOffsetDelta: 0, producerId, attributes: 0x20 | 0x10, records: [{ key }] };
};
const data = (producerId: bigint, offset: bigint, n: number): FetchedBatch => ({
  firstOffset: offset,
  lastOffsetDelta: n - 1,
  producerId,
  attributes: 0x10,
  records: Array.from({ length: n }, () => ({ key: null })),
});
const kept = (batches: FetchedBatch[]) => batches.filter((b) => !(b.attributes & 0x20)).map((b) => `${b.producerId}@${b.firstOffset}:${b.records.length}`);

describe('dropAbortedRecords', () => {
  it('drops every aborted transaction of one producer, not only its last (committed ones in between stay)', () => {
    const p = 7n;
    // txn A aborted (0-1, marker 2), txn B committed (3-4, marker 5), txn C aborted (6-7, marker 8)
    const records = [data(p, 0n, 2), marker(p, 2n, true), data(p, 3n, 2), marker(p, 5n, false), data(p, 6n, 2), marker(p, 8n, true)];
    const dropped = dropAbortedRecords({ records, abortedTransactions: [{ producerId: p, firstOffset: 6n }, { producerId: p, firstOffset: 0n }] });
    expect(dropped).toBe(4);
    expect(kept(records)).toEqual(['7@0:0', '7@3:2', '7@6:0']);
    expect(records).toHaveLength(6); // aborted batches keep their place: the fetch position moves past them
  });

  it('interleaved producers: only the aborting producer loses its records', () => {
    const records = [data(1n, 0n, 1), data(2n, 1n, 1), data(1n, 2n, 1), marker(2n, 3n, false), marker(1n, 4n, true), data(1n, 5n, 1)];
    expect(dropAbortedRecords({ records, abortedTransactions: [{ producerId: 1n, firstOffset: 0n }] })).toBe(2);
    expect(kept(records)).toEqual(['1@0:0', '2@1:1', '1@2:0', '1@5:1']);
  });

  it('a response that starts inside an aborted transaction drops up to its marker', () => {
    const records = [data(3n, 10n, 3), marker(3n, 13n, true), data(3n, 14n, 2)];
    expect(dropAbortedRecords({ records, abortedTransactions: [{ producerId: 3n, firstOffset: 8n }] })).toBe(3);
    expect(kept(records)).toEqual(['3@10:0', '3@14:2']);
  });

  it('no aborted transactions listed: nothing changes', () => {
    const records = [data(1n, 0n, 2), marker(1n, 2n, false)];
    expect(dropAbortedRecords({ records, abortedTransactions: null })).toBe(0);
    expect(dropAbortedRecords({ records, abortedTransactions: [] })).toBe(0);
    expect(kept(records)).toEqual(['1@0:2']);
  });
});
