import { deadLetterMessage, messageBytes, type OutboundMessage, type SourceRecord } from '@sentiment-stream/events';
import { describe, expect, it, vi } from 'vitest';
import { tpKey, type Assignment, type Driver, type DriverHandlers, type PartitionOffset, type PlacedMessage } from './driver.js';
import { createTransport, type InputBatch, type TransportEvent, type TransportOptions } from './transport.js';

/** A broker-less driver that records what the transport asks of it; failures are scripted per call. */
class FakeDriver implements Driver {
  readonly name = 'kafkajs' as const;
  needsDrainToRewind = false;
  handlers!: DriverHandlers;
  sends: PlacedMessage[][] = [];
  transactions: { messages: PlacedMessage[]; offsets: PartitionOffset[] }[] = [];
  commits: PartitionOffset[][] = [];
  /** What the group has committed, as the broker would have it. */
  groupOffsets = new Map<string, bigint>();
  rewinds: PartitionOffset[] = [];
  held: string[] = [];
  paused = false;
  renewed = 0;
  stopped = false;
  /** Returns an error to throw for this call, or undefined to accept it. */
  onSend: (messages: PlacedMessage[]) => Error | undefined = () => undefined;
  onTransaction: (messages: PlacedMessage[]) => Error | undefined = () => undefined;
  onCommit: (offsets: PartitionOffset[]) => Error | undefined = () => undefined;
  /** A transaction that throws yet committed (the broker went away during EndTxn). */
  commitThenThrow = false;
  /** The next transaction never settles (a client stuck looking for its coordinator). */
  hangNextTransaction = false;
  /** The next send never settles (a client resending to a leader that moved). */
  hangNextSend = false;

  async connect() {}
  async describeTopics(topics: string[]) {
    return new Map(topics.map((t) => [t, { partitions: t === 'dlq' ? 2 : 4, maxMessageBytes: 10_000 }]));
  }
  async startConsuming(h: DriverHandlers) {
    this.handlers = h;
  }
  pauseFetching() {
    this.paused = true;
  }
  resumeFetching() {
    this.paused = false;
  }
  async rewind(tp: { topic: string; partition: number }, offset: bigint) {
    this.rewinds.push({ ...tp, offset });
  }
  holdPartition(tp: { topic: string; partition: number }) {
    this.held.push(tpKey(tp.topic, tp.partition));
  }
  async send(messages: PlacedMessage[]) {
    if (this.hangNextSend) {
      this.hangNextSend = false;
      return new Promise<void>(() => undefined);
    }
    const err = this.onSend(messages);
    if (err) throw err;
    this.sends.push(messages);
  }
  async transaction(chunks: PlacedMessage[][], offsets: PartitionOffset[]) {
    if (this.hangNextTransaction) {
      this.hangNextTransaction = false;
      return new Promise<void>(() => undefined);
    }
    const messages = chunks.flat();
    const err = this.onTransaction(messages);
    if (err && !this.commitThenThrow) throw err;
    this.transactions.push({ messages, offsets });
    for (const o of offsets) this.groupOffsets.set(tpKey(o.topic, o.partition), o.offset);
    if (err) throw err;
  }
  async renewProducer() {
    this.renewed++;
    this.commitThenThrow = false;
  }
  async commit(offsets: PartitionOffset[]) {
    const err = this.onCommit(offsets);
    if (err) throw err;
    this.commits.push(offsets);
    for (const o of offsets) this.groupOffsets.set(tpKey(o.topic, o.partition), o.offset);
  }
  async committed(tps: { topic: string; partition: number }[]) {
    return new Map(tps.map((t) => [tpKey(t.topic, t.partition), this.groupOffsets.get(tpKey(t.topic, t.partition)) ?? -1n]));
  }
  async stopConsuming() {
    this.stopped = true;
  }
  async closeProducer() {}
}

const refused = (code = 'INVALID_RECORD') => Object.assign(new Error(`refused: ${code}`), { type: code });
const transient = () => Object.assign(new Error('The coordinator is loading'), { type: 'COORDINATOR_LOAD_IN_PROGRESS', retriable: true });
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function rec(partition: number, offset: number, topic = 'in'): SourceRecord {
  return { topic, partition, offset: String(offset), timestamp: '1700000000000', key: Buffer.from(`k${partition}-${offset}`), value: Buffer.from('{}'), headers: {} };
}
const event = (r: SourceRecord): OutboundMessage => ({ kind: 'event', topic: 'out', key: r.key, value: Buffer.from(`e${r.partition}-${r.offset}`), headers: {} });
const dead = (r: SourceRecord): OutboundMessage => deadLetterMessage('dlq', r, 'INVALID_JSON', 'broken');
const ids = (msgs: PlacedMessage[]) => msgs.map((m) => (m.kind === 'event' ? m.value!.toString() : `d${m.headers['x-source-partition']}-${m.headers['x-source-offset']}`));

const options = (delivery: TransportOptions['delivery']): TransportOptions => ({
  delivery,
  inputTopics: ['in'],
  outputTopic: 'out',
  dlqTopic: 'dlq',
  maxInFlight: 1_000,
  outputRetryMaxMs: 1_000,
  drainTimeoutMs: 1_000,
  dlqValuePrefixBytes: 64,
  findUndecodable: async () => [],
  logger: silent,
});

async function setup(delivery: TransportOptions['delivery'] = 'at-least-once', extra: Partial<TransportOptions> = {}) {
  const driver = new FakeDriver();
  const batches: InputBatch[] = [];
  const events: TransportEvent[] = [];
  const t = createTransport(driver, { ...options(delivery), ...extra });
  await t.start({ batch: (b) => batches.push(b), event: (e) => events.push(e) });
  const assign = (a: Assignment[] = [{ topic: 'in', partitions: [0, 1, 2, 3] }]) => driver.handlers.assigned(a);
  assign();
  /** Hands records over as one fetch; resolves with what the driver is told is done. */
  const fetch = (records: SourceRecord[], positions = new Map<string, bigint>()) => driver.handlers.records(records, positions, undefined);
  return { driver, batches, events, t, fetch };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('transport: start-up', () => {
  it('a topic missing on the cluster fails start-up with one message naming each setting, before the group is joined', async () => {
    const driver = new FakeDriver();
    driver.describeTopics = async (topics: string[]) => new Map(topics.filter((t) => t === 'in').map((t) => [t, { partitions: 4, maxMessageBytes: 10_000 }]));
    const t = createTransport(driver, { ...options('at-least-once'), inputTopics: ['in', 'gone'] });
    await expect(t.start({ batch: () => undefined, event: () => undefined })).rejects.toThrow(
      'INPUT_TOPICS: topic "gone" not found on the cluster; OUTPUT_TOPIC: topic "out" not found on the cluster; DLQ_TOPIC: topic "dlq" not found on the cluster (create them first; the scorer does not create topics)',
    );
    expect(driver.handlers).toBeUndefined();
  });
});

describe('transport: order and acknowledgement', () => {
  it('publishes in hand-out order, coalesces what is acknowledged, commits past the last record', async () => {
    const { driver, batches, fetch } = await setup();
    const a = [rec(0, 10), rec(0, 11)];
    const b = [rec(1, 5)];
    const c = [rec(0, 12)];
    const done = [fetch(a), fetch(b), fetch(c)];
    // Acknowledged out of order: nothing leaves until the head is acknowledged.
    void batches[2]!.ack(c.map(event));
    void batches[1]!.ack(b.map(event));
    await settle();
    expect(driver.sends).toEqual([]);
    void batches[0]!.ack(a.map(event));
    const results = await Promise.all(done);
    expect(driver.sends.map(ids)).toEqual([['e0-10', 'e0-11', 'e1-5', 'e0-12']]);
    expect(driver.commits).toEqual([[{ topic: 'in', partition: 0, offset: 13n }, { topic: 'in', partition: 1, offset: 6n }]]);
    expect(results.map((m) => Object.fromEntries(m))).toEqual([{ 'in:0': 11n }, { 'in:1': 5n }, { 'in:0': 12n }]);
  });

  it('places keyed events by murmur2 and dead letters by input partition, one DLQ partition per input partition', async () => {
    const { driver, batches, fetch } = await setup();
    const r = [rec(3, 1), rec(3, 2)];
    const done = fetch(r);
    void batches[0]!.ack([event(r[0]!), dead(r[1]!)]);
    await done;
    const all = driver.sends.flat();
    expect(all.find((m) => m.kind === 'dead-letter')!.partition).toBe(3 % 2);
    expect(all.find((m) => m.kind === 'event')!.partition).toBeGreaterThanOrEqual(0);
  });

  it('commits past trailing transaction markers, but never past a record still in flight', async () => {
    const { driver, batches, fetch } = await setup();
    const r = [rec(0, 7)];
    const first = fetch(r, new Map([[tpKey('in', 0), 9n]]));
    const second = fetch([rec(0, 9)], new Map([[tpKey('in', 0), 10n]]));
    void batches[0]!.ack(r.map(event));
    await first;
    // 9 is still being scored: commit only past 7.
    expect(driver.commits.flat()).toEqual([{ topic: 'in', partition: 0, offset: 8n }]);
    void batches[1]!.ack([event(rec(0, 9))]);
    await second;
    // A fetch of markers alone (no records) moves the committed offset too.
    await fetch([], new Map([[tpKey('in', 0), 12n]]));
    expect(driver.commits.flat().map((o) => o.offset)).toEqual([8n, 10n, 12n]);
  });

  it('sends a flush larger than a topic accepts as several requests, in order', async () => {
    const { driver, batches, fetch } = await setup();
    // 10,000 max.message.bytes in the fake: ~40 events of ~200 bytes per request.
    const r = Array.from({ length: 200 }, (_, i) => ({ ...rec(0, i), value: Buffer.alloc(150, 0x61) }));
    const done = fetch(r);
    void batches[0]!.ack(r.map((x) => ({ ...event(x), value: Buffer.concat([Buffer.from(`e0-${x.offset}|`), Buffer.alloc(120, 0x62)]) })));
    await done;
    expect(driver.sends.length).toBeGreaterThan(3);
    for (const send of driver.sends) expect(send.reduce((n, m) => n + messageBytes(m), 0)).toBeLessThan(10_000);
    expect(driver.sends.flat().map((m) => Number(m.value!.toString().split('|')[0]!.slice(3)))).toEqual(r.map((x) => Number(x.offset)));
  });

  it('shrinks a dead letter larger than the DLQ accepts, keeping its headers', async () => {
    const { driver, batches, fetch } = await setup();
    const big = { ...rec(0, 1), value: Buffer.alloc(50_000, 0x61) };
    const done = fetch([big]);
    void batches[0]!.ack([dead(big)]);
    await done;
    const sent = driver.sends.flat()[0]!;
    expect(sent.value!.length).toBe(64);
    expect(sent.headers).toMatchObject({ 'x-error-code': 'INVALID_JSON', 'x-original-size': '50000', 'x-value-truncated': 'true' });
  });
});

describe('transport: a refused output holds its own partition', () => {
  it('at-least-once: the refused dead letter holds partition 1 at its offset; the others flow, nothing is sent twice', async () => {
    const { driver, batches, events, t, fetch } = await setup();
    driver.onSend = (m) => (m.some((x) => x.kind === 'dead-letter' && x.headers['x-source-offset'] === '21') ? refused() : undefined);
    const r = [rec(0, 1), rec(1, 20), rec(1, 21), rec(1, 22), rec(2, 5)];
    const done = fetch(r);
    void batches[0]!.ack([event(r[0]!), dead(r[1]!), dead(r[2]!), event(r[3]!), event(r[4]!)]);
    await done;
    const sent = driver.sends.flatMap(ids);
    expect(sent.sort()).toEqual(['d1-20', 'e0-1', 'e2-5']);
    expect(new Set(sent).size).toBe(sent.length);
    expect(t.held).toEqual([{ topic: 'in', partition: 1, offset: '21', code: 'INVALID_RECORD' }]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'partition-held', partition: 1, offset: '21' }));
    expect(driver.held).toEqual(['in:1']);
    // Partition 1 commits up to the held record only; later records of it are not taken meanwhile.
    expect(driver.commits.flat()).toContainEqual({ topic: 'in', partition: 1, offset: 21n });
    await fetch([rec(1, 21), rec(1, 23)]);
    expect(batches).toHaveLength(1);
  });

  it('retries the held output with backoff; once accepted, commits it and reads the partition again after it', async () => {
    const { driver, batches, events, t, fetch } = await setup();
    let refusing = true;
    driver.onSend = (m) => (refusing && m.some((x) => x.kind === 'dead-letter') ? refused('TOPIC_AUTHORIZATION_FAILED') : undefined);
    const r = [rec(2, 40)];
    const done = fetch(r);
    void batches[0]!.ack([dead(r[0]!)]);
    await done;
    expect(t.held).toHaveLength(1);
    refusing = false;
    // The first retry comes after about a second (backoff from 1 s).
    for (let i = 0; i < 40 && t.held.length > 0; i++) await new Promise((res) => setTimeout(res, 100));
    expect(t.held).toEqual([]);
    expect(driver.sends.flatMap(ids)).toEqual(['d2-40']);
    expect(driver.commits.flat()).toContainEqual({ topic: 'in', partition: 2, offset: 41n });
    expect(driver.rewinds).toEqual([{ topic: 'in', partition: 2, offset: 41n }]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'partition-released', partition: 2 }));
  });

  it('a record handed out before its partition was held is scored when the partition is read again (not taken for a second delivery)', async () => {
    const { driver, batches, t, fetch } = await setup();
    let refusing = true;
    driver.onSend = (m) => (refusing && m.some((x) => x.kind === 'dead-letter') ? refused('TOPIC_AUTHORIZATION_FAILED') : undefined);
    const r = [rec(2, 40), rec(2, 41)];
    const done = fetch(r);
    void batches[0]!.ack([dead(r[0]!), event(r[1]!)]);
    await done;
    expect(t.held).toHaveLength(1);
    refusing = false;
    for (let i = 0; i < 40 && t.held.length > 0; i++) await new Promise((res) => setTimeout(res, 100));
    expect(driver.rewinds).toEqual([{ topic: 'in', partition: 2, offset: 41n }]);
    // kafkajs seeks (no new epoch): offset 41, handed out before, comes again and must be scored.
    const again = fetch([rec(2, 41)]);
    await settle();
    expect(batches).toHaveLength(2);
    void batches[1]!.ack([event(rec(2, 41))]);
    await again;
    expect(driver.sends.flatMap(ids)).toEqual(['d2-40', 'e2-41']);
  });

  it('exactly-once: the refused transaction is aborted and redone per partition; only the refused record is held', async () => {
    const { driver, batches, t, fetch } = await setup('exactly-once');
    driver.onTransaction = (m) => (m.some((x) => x.kind === 'dead-letter') ? refused('MESSAGE_TOO_LARGE') : undefined);
    const r = [rec(0, 1), rec(0, 2), rec(3, 7), rec(3, 8), rec(3, 9)];
    const done = fetch(r);
    void batches[0]!.ack([event(r[0]!), event(r[1]!), event(r[2]!), dead(r[3]!), event(r[4]!)]);
    await done;
    const committed = driver.transactions.flatMap((x) => ids(x.messages));
    expect(committed.sort()).toEqual(['e0-1', 'e0-2', 'e3-7']);
    expect(driver.groupOffsets).toEqual(new Map([['in:0', 3n], ['in:3', 8n]]));
    expect(t.held).toEqual([{ topic: 'in', partition: 3, offset: '8', code: 'MESSAGE_TOO_LARGE' }]);
  });
});

describe('transport: failures of the broker', () => {
  it('at-least-once waits out a transient failure and sends again', async () => {
    const { driver, batches, fetch } = await setup();
    let failures = 2;
    driver.onSend = () => (failures-- > 0 ? transient() : undefined);
    const r = [rec(0, 1)];
    const done = fetch(r);
    void batches[0]!.ack(r.map(event));
    await done;
    expect(driver.sends.flatMap(ids)).toEqual(['e0-1']);
  });

  it('at-least-once: a commit the client can make only after a rejoin (MEMBER_MUST_REJOIN) is given up at once, not retried', async () => {
    const { driver, batches, events, fetch } = await setup();
    let attempts = 0;
    driver.onCommit = () => (attempts++, Object.assign(new Error('not the coordinator: kafkajs finds the new one when it rejoins'), { type: 'MEMBER_MUST_REJOIN' }));
    const r = [rec(0, 1)];
    const done = fetch(r);
    void batches[0]!.ack(r.map(event));
    // The batch ends (published, not committed): kafkajs then rejoins and reads it again.
    expect(await done).toEqual(new Map([['in:0', 1n]]));
    expect(attempts).toBe(1);
    expect(driver.sends.flatMap(ids)).toEqual(['e0-1']);
    expect(events).toContainEqual(expect.objectContaining({ type: 'warning', message: expect.stringContaining('offset commit failed') }));
    // Not committed, so after the rejoin the record read again is scored again (at-least-once), not dropped.
    driver.onCommit = () => undefined;
    driver.handlers.assigned([{ topic: 'in', partitions: [0, 1, 2, 3] }]);
    const again = fetch(r);
    await settle();
    expect(batches).toHaveLength(2);
    void batches[1]!.ack(r.map(event));
    await again;
    expect(driver.commits.flat()).toEqual([{ topic: 'in', partition: 0, offset: 2n }]);
  });

  it('at-least-once: records settled without their commit and delivered again before any rejoin are scored again, not taken for a second delivery', async () => {
    // The 3-node case: a refused commit, and kafkajs fetched the batch it had not resolved again
    // and again in the same generation; dropping it each time left the group at lag for good.
    const { driver, batches, events, fetch } = await setup();
    driver.onCommit = () => Object.assign(new Error('not the coordinator'), { type: 'MEMBER_MUST_REJOIN' });
    const r = [rec(0, 1), rec(0, 2)];
    const done = fetch(r);
    void batches[0]!.ack(r.map(event));
    await done;
    driver.onCommit = () => undefined;
    const again = fetch(r);
    await settle();
    expect(batches).toHaveLength(2);
    void batches[1]!.ack(r.map(event));
    expect(await again).toEqual(new Map([['in:0', 2n]]));
    expect(driver.commits.flat()).toEqual([{ topic: 'in', partition: 0, offset: 3n }]);
    expect(events).not.toContainEqual(expect.objectContaining({ message: expect.stringContaining('delivered a second time') }));
  });

  it('exactly-once: a transaction that failed but committed (outcome unknown) is settled and read back, not redone', async () => {
    const { driver, batches, fetch } = await setup('exactly-once');
    driver.commitThenThrow = true;
    driver.onTransaction = () => (driver.commitThenThrow ? transient() : undefined);
    const r = [rec(1, 4), rec(1, 5)];
    const done = fetch(r);
    void batches[0]!.ack(r.map(event));
    await done;
    expect(driver.renewed).toBe(1);
    expect(driver.transactions).toHaveLength(1);
    expect(driver.groupOffsets.get('in:1')).toBe(6n);
  });

  it('exactly-once: a transaction that never settles is given up after 60 s as an unknown outcome: producer renewed, read back, redone', async () => {
    vi.useFakeTimers();
    try {
      const { driver, batches, events, fetch } = await setup('exactly-once');
      driver.hangNextTransaction = true;
      const r = [rec(2, 4)];
      const done = fetch(r);
      void batches[0]!.ack(r.map(event));
      await vi.advanceTimersByTimeAsync(59_000);
      expect(driver.renewed).toBe(0);
      await vi.advanceTimersByTimeAsync(2_000);
      // Renewed, the offsets read back (not committed), and the transaction redone with the new producer.
      expect(driver.renewed).toBe(1);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(await done).toEqual(new Map([['in:2', 4n]]));
      expect(driver.transactions.map((t) => ids(t.messages))).toEqual([['e2-4']]);
      expect(events).toContainEqual(expect.objectContaining({ type: 'warning', err: expect.stringContaining('did not settle in 60 s') }));
    } finally {
      vi.useRealTimers();
    }
  });

  it('at-least-once: a send that never settles is given up after 60 s: producer renewed, sent again, committed', async () => {
    vi.useFakeTimers();
    try {
      const { driver, batches, events, fetch } = await setup();
      driver.hangNextSend = true;
      const r = [rec(1, 7)];
      const done = fetch(r);
      void batches[0]!.ack(r.map(event));
      await vi.advanceTimersByTimeAsync(59_000);
      expect(driver.renewed).toBe(0);
      await vi.advanceTimersByTimeAsync(2_000);
      expect(driver.renewed).toBe(1);
      await vi.advanceTimersByTimeAsync(1_000);
      expect(await done).toEqual(new Map([['in:1', 7n]]));
      expect(driver.sends.flatMap(ids)).toEqual(['e1-7']);
      expect(driver.commits.flat()).toEqual([{ topic: 'in', partition: 1, offset: 8n }]);
      expect(events).toContainEqual(expect.objectContaining({ type: 'warning', err: expect.stringContaining('the send did not settle in 60 s') }));
    } finally {
      vi.useRealTimers();
    }
  });

  it('exactly-once: a transaction aborted by a rebalance (ILLEGAL_GENERATION) drops its records, to be read again', async () => {
    const { driver, batches, events, fetch } = await setup('exactly-once');
    driver.onTransaction = () => refused('ILLEGAL_GENERATION');
    const r = [rec(0, 1)];
    const done = await Promise.all([fetch(r), batches[0]!.ack(r.map(event))]);
    expect(done[0].size).toBe(0);
    expect(driver.transactions).toEqual([]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'warning', message: expect.stringContaining('rebalance') }));
  });

  it('a producer fenced once (its transaction outlived the timeout in an outage) is renewed and goes on', async () => {
    const { driver, batches, events, fetch } = await setup('exactly-once');
    let fenced = 1;
    driver.onTransaction = () => (fenced-- > 0 ? refused('INVALID_PRODUCER_EPOCH') : undefined);
    const r = [rec(0, 1)];
    const done = fetch(r);
    void batches[0]!.ack(r.map(event));
    await done;
    expect(driver.renewed).toBe(1);
    expect(driver.transactions.flatMap((x) => ids(x.messages))).toEqual(['e0-1']);
    expect(events.find((e) => e.type === 'fatal')).toBeUndefined();
  });

  it('a producer fenced again and again (another replica with the same transactional id) is fatal', async () => {
    const { driver, batches, events, fetch } = await setup('exactly-once');
    driver.onTransaction = () => refused('PRODUCER_FENCED');
    const r = [rec(0, 1)];
    void fetch(r);
    void batches[0]!.ack(r.map(event));
    for (let i = 0; i < 100 && !events.some((e) => e.type === 'fatal'); i++) await new Promise((res) => setTimeout(res, 50));
    const fatal = events.find((e) => e.type === 'fatal') as { error: Error } | undefined;
    expect(fatal?.error.message).toMatch(/another replica uses the same transactional id/);
  });
});

describe('transport: rebalances, release, backpressure, stop', () => {
  it('drops what was handed out under the previous generation instead of publishing it', async () => {
    const { driver, batches, events, fetch } = await setup();
    const r = [rec(0, 1)];
    const done = fetch(r);
    driver.handlers.assigned([{ topic: 'in', partitions: [1] }]);
    void batches[0]!.ack(r.map(event));
    expect((await done).size).toBe(0);
    expect(driver.sends).toEqual([]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'dropped', records: 1 }));
  });

  it('before a rejoin, waits for in-flight work to be published and committed', async () => {
    const { driver, batches, fetch } = await setup();
    const r = [rec(0, 1)];
    void fetch(r);
    let rejoined = false;
    const rejoin = driver.handlers.rejoining().then(() => (rejoined = true));
    await settle();
    expect(rejoined).toBe(false);
    void batches[0]!.ack(r.map(event));
    await rejoin;
    expect(driver.commits.flat()).toEqual([{ topic: 'in', partition: 0, offset: 2n }]);
    // Records arriving while the member rejoins are not taken: they are read again under the new generation.
    await fetch([rec(0, 2)]);
    expect(batches).toHaveLength(1);
  });

  it('a failed record stream: what it handed out is published and committed (exactly-once) before the partitions are read again', async () => {
    const { driver, batches, events, fetch } = await setup('exactly-once');
    const r = [rec(1, 7), rec(1, 8)];
    void fetch(r);
    driver.handlers.streamFailed(new Error('fetch failed 2 times: Cannot find broker with node id 3'));
    await settle();
    // No new stream while records of the old one are in flight: it would start before them.
    expect(driver.rewinds).toEqual([]);
    expect(driver.paused).toBe(true);
    void batches[0]!.ack(r.map(event));
    await settle();
    expect(driver.transactions.map((t) => t.offsets)).toEqual([[{ topic: 'in', partition: 1, offset: 9n }]]);
    expect(driver.rewinds).toHaveLength(1);
    expect(driver.paused).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ type: 'warning', message: expect.stringContaining('consumer stream failed') }));
  });

  it('exactly-once: records read again below an offset it committed (offsets fetched before the commit settled) are dropped, not published twice', async () => {
    const { driver, batches, events, fetch } = await setup('exactly-once');
    const first = [rec(0, 1), rec(0, 2)];
    const done1 = fetch(first);
    void batches[0]!.ack(first.map(event));
    expect(await done1).toEqual(new Map([['in:0', 2n]]));
    // A new stream starts from the group's offset as it was before that transaction's markers landed.
    const again = [rec(0, 1), rec(0, 2), rec(0, 3), rec(1, 5)];
    const done2 = fetch(again);
    await settle();
    expect(batches).toHaveLength(2);
    expect(batches[1]!.records).toEqual([rec(0, 3), rec(1, 5)]);
    void batches[1]!.ack(batches[1]!.records.map(event));
    // Reported done up to the last record read, the dropped ones included (kafkajs resolves up to there).
    expect(await done2).toEqual(new Map([['in:0', 3n], ['in:1', 5n]]));
    expect(driver.transactions.flatMap((t) => ids(t.messages))).toEqual(['e0-1', 'e0-2', 'e0-3', 'e1-5']);
    expect(events).toContainEqual(expect.objectContaining({ type: 'warning', message: expect.stringContaining('2 records below') }));
    // Only records below the offset: nothing of a stream that starts where the last commit left off is dropped.
    const done3 = fetch([rec(0, 4)]);
    await settle();
    expect(batches).toHaveLength(3);
    void batches[2]!.ack([event(rec(0, 4))]);
    expect(await done3).toEqual(new Map([['in:0', 4n]]));
  });

  it('exactly-once: records the client delivers a second time while the first copies are in flight are dropped; a rewind reads them again', async () => {
    const { driver, batches, events, fetch } = await setup('exactly-once');
    const first = [rec(0, 1), rec(0, 2)];
    const done1 = fetch(first);
    // The same stream hands over offsets 1-2 again (fetches to the old and the new leader), and 3.
    const done2 = fetch([rec(0, 1), rec(0, 2), rec(0, 3)]);
    await settle();
    expect(batches.map((b) => b.records)).toEqual([first, [rec(0, 3)]]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'warning', message: expect.stringContaining('2 records the client delivered a second time') }));
    void batches[0]!.ack(first.map(event));
    void batches[1]!.ack([event(rec(0, 3))]);
    await Promise.all([done1, done2]);
    expect(driver.transactions.flatMap((t) => ids(t.messages))).toEqual(['e0-1', 'e0-2', 'e0-3']);
  });

  it('exactly-once: one fetch that holds the same offsets twice hands each record out once', async () => {
    const { driver, batches, events, fetch } = await setup('exactly-once');
    const r = [rec(2, 5), rec(2, 6)];
    const done = fetch([...r, rec(2, 5), rec(2, 6), rec(2, 7)]);
    await settle();
    expect(batches.map((b) => b.records)).toEqual([[...r, rec(2, 7)]]);
    expect(events).toContainEqual(expect.objectContaining({ type: 'warning', message: expect.stringContaining('2 records the client delivered a second time') }));
    void batches[0]!.ack([...r, rec(2, 7)].map(event));
    await done;
    expect(driver.transactions.flatMap((t) => ids(t.messages))).toEqual(['e2-5', 'e2-6', 'e2-7']);
  });

  it('a failed record stream whose new stream cannot start yet is retried until it starts', async () => {
    const { driver } = await setup();
    let refusals = 2;
    const rewind = driver.rewind.bind(driver);
    driver.rewind = async (tp, offset) => {
      if (refusals-- > 0) throw transient();
      return rewind(tp, offset);
    };
    driver.handlers.streamFailed(new Error('stream failed'));
    // Backoff from 500 ms: two refusals, then the third attempt starts the stream.
    for (let waited = 0; driver.rewinds.length === 0 && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(refusals).toBe(-1);
    expect(driver.rewinds).toHaveLength(1);
  });

  it('release(): nothing of the records is published, and their partition is held there', async () => {
    const { driver, batches, t, fetch } = await setup();
    const r = [rec(2, 9)];
    const done = fetch(r);
    const later = fetch([rec(2, 10)]);
    batches[0]!.release(new Error('model gave up'));
    await done;
    void batches[1]?.ack([event(rec(2, 10))]);
    await Promise.race([later, settle()]);
    expect(driver.sends).toEqual([]);
    expect(driver.commits).toEqual([]);
    expect(t.held).toEqual([{ topic: 'in', partition: 2, offset: '9', code: 'NOT_SCORED' }]);
  });

  it('pauses fetching at MAX_INFLIGHT_MESSAGES and resumes below half', async () => {
    const { driver, batches, t, fetch } = await setup('at-least-once', { maxInFlight: 4 });
    const r = [rec(0, 1), rec(0, 2), rec(0, 3), rec(0, 4)];
    const done = fetch(r);
    expect(t.inFlight).toBe(4);
    expect(driver.paused).toBe(true);
    void batches[0]!.ack(r.map(event));
    await done;
    expect(t.inFlight).toBe(0);
    expect(driver.paused).toBe(false);
  });

  it('a rejoin while fetching was paused for backpressure resumes it once the dropped records are gone', async () => {
    const { driver, batches, fetch } = await setup('at-least-once', { maxInFlight: 2, drainTimeoutMs: 50 });
    void fetch([rec(0, 1), rec(0, 2)]);
    expect(driver.paused).toBe(true);
    // The rejoin gives up waiting for the batch (still being scored) and drops it.
    await driver.handlers.rejoining();
    driver.handlers.assigned([{ topic: 'in', partitions: [0] }]);
    expect(driver.paused).toBe(false);
    void batches[0]!.ack([event(rec(0, 1)), event(rec(0, 2))]);
    await settle();
    expect(driver.sends).toEqual([]);
  });

  it('stop() publishes and commits what is in flight before leaving the group', async () => {
    const { driver, batches, t, fetch } = await setup();
    const r = [rec(1, 3)];
    void fetch(r);
    const stopping = t.stop(5_000);
    await settle();
    expect(driver.stopped).toBe(false);
    void batches[0]!.ack(r.map(event));
    await stopping;
    expect(driver.sends.flatMap(ids)).toEqual(['e1-3']);
    expect(driver.commits.flat()).toEqual([{ topic: 'in', partition: 1, offset: 4n }]);
    expect(driver.stopped).toBe(true);
  });

  it('stop() gives up waiting after its timeout: the records are left for re-delivery', async () => {
    const { driver, t, fetch } = await setup();
    void fetch([rec(1, 3)]);
    await t.stop(50);
    expect(driver.sends).toEqual([]);
    expect(driver.commits).toEqual([]);
    expect(driver.stopped).toBe(true);
  });
});
