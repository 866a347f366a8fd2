/**
 * Per-partition commit watermark. Records finish out of order across partitions (and could within
 * one), so an offset becomes committable only when every earlier offset of its partition that this
 * process received has been acknowledged: its output or dead letter is on the broker.
 */
export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The next offset to consume, as Kafka commits it: last acknowledged + 1. */
  offset: string;
}

interface PartitionState {
  /** Offsets received and not yet acknowledged, in arrival (= offset) order, from index `head`. */
  pending: bigint[];
  head: number;
  acked: Set<bigint>;
  /** Highest offset whose predecessors are all acknowledged, or undefined. */
  done: bigint | undefined;
  committed: bigint | undefined;
}

export class OffsetTracker {
  private readonly partitions = new Map<string, PartitionState>();

  track(topic: string, partition: number, offset: string): void {
    const state = this.state(topic, partition);
    const o = BigInt(offset);
    const idle = state.pending.length === state.head;
    const last = idle ? state.done : state.pending.at(-1);
    if (last !== undefined && o <= last) {
      // With nothing pending this is a re-delivery (a commit lost in a rebalance): start afresh.
      if (!idle) throw new Error(`offset ${offset} of ${topic}-${partition} tracked out of order (after ${last})`);
      this.partitions.delete(key(topic, partition));
      this.track(topic, partition, offset);
      return;
    }
    state.pending.push(o);
  }

  ack(topic: string, partition: number, offset: string): void {
    const state = this.partitions.get(key(topic, partition));
    if (!state) return; // the partition was revoked meanwhile; its new owner re-reads from the last commit
    const o = BigInt(offset);
    if (state.done !== undefined && o <= state.done) return;
    state.acked.add(o);
    while (state.head < state.pending.length && state.acked.has(state.pending[state.head]!)) {
      const head = state.pending[state.head++]!;
      state.acked.delete(head);
      state.done = head;
    }
    // Compact now and then rather than shift() per ack, which is linear on long backlogs.
    if (state.head > 1024 && state.head * 2 > state.pending.length) {
      state.pending = state.pending.slice(state.head);
      state.head = 0;
    }
  }

  /** Offsets that moved since the last call; marks them committed. */
  takeCommittable(): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = [];
    for (const [k, state] of this.partitions) {
      if (state.done === undefined || state.done === state.committed) continue;
      state.committed = state.done;
      const [topic, partition] = split(k);
      out.push({ topic, partition, offset: String(state.done + 1n) });
    }
    return out;
  }

  /** Records received and not yet behind the watermark, over all partitions. */
  get inFlight(): number {
    let n = 0;
    for (const state of this.partitions.values()) n += state.pending.length - state.head;
    return n;
  }

  /** Forget partitions this process no longer owns. */
  forget(topic: string, partition: number): void {
    this.partitions.delete(key(topic, partition));
  }

  private state(topic: string, partition: number): PartitionState {
    const k = key(topic, partition);
    let state = this.partitions.get(k);
    if (!state) {
      state = { pending: [], head: 0, acked: new Set(), done: undefined, committed: undefined };
      this.partitions.set(k, state);
    }
    return state;
  }
}

const key = (topic: string, partition: number) => `${partition}:${topic}`;
function split(k: string): [string, number] {
  const i = k.indexOf(':');
  return [k.slice(i + 1), Number(k.slice(0, i))];
}

/** The nested shape kafkajs takes for offset commits. */
export function byTopicPartitions(offsets: TopicPartitionOffset[]): { topic: string; partitions: { partition: number; offset: string }[] }[] {
  const topics = new Map<string, { partition: number; offset: string }[]>();
  for (const o of offsets) {
    const list = topics.get(o.topic) ?? [];
    list.push({ partition: o.partition, offset: o.offset });
    topics.set(o.topic, list);
  }
  return [...topics].map(([topic, partitions]) => ({ topic, partitions }));
}
