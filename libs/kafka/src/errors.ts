import { describeError } from '@sentiment-stream/runtime';

/**
 * One reading of a Kafka client error, whichever library threw it: kafkajs errors carry the broker's
 * error name in `type` (and wrap causes in `originalError`), @platformatic/kafka's in `apiId`
 * (aggregated in `errors`, wrapped in `cause`).
 */
export type ErrorKind =
  /** Another producer holds the transactional id's epoch now (see FENCED). */
  | 'fenced'
  /** The broker will take it later: a leader moved, a coordinator is loading, the network dropped. */
  | 'retriable'
  /** The broker refuses this output for good (size, an invalid record, a policy, authorization). */
  | 'refused'
  /** This member no longer holds the group generation its records came from (a rebalance happened). */
  | 'stale'
  /** Another producer took over the transactional id, or authorization for it or the group is missing. */
  | 'fatal';

export interface KafkaErrorInfo {
  kind: ErrorKind;
  /** The broker's error name (MESSAGE_TOO_LARGE, ...) or the client's error class. */
  code: string;
  message: string;
}

const REFUSED = new Set([
  'MESSAGE_TOO_LARGE',
  'RECORD_LIST_TOO_LARGE',
  'INVALID_RECORD',
  'CORRUPT_MESSAGE',
  'INVALID_TIMESTAMP',
  'POLICY_VIOLATION',
  'TOPIC_AUTHORIZATION_FAILED',
  'UNSUPPORTED_FOR_MESSAGE_FORMAT',
  'INVALID_TOPIC_EXCEPTION',
  // What an idempotent producer gets when it retries a batch the broker refused (kafkajs retries an
  // INVALID_RECORD refusal and reports this instead); never a broker outage, which fails before the append.
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
]);
/**
 * MEMBER_MUST_REJOIN is a driver's own: a client that finds its group's new coordinator only by
 * rejoining (kafkajs, see its driver's commit) says so, and the commit is not retried.
 */
const STALE = new Set(['ILLEGAL_GENERATION', 'UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'FENCED_INSTANCE_ID', 'STALE_MEMBER_EPOCH', 'MEMBER_MUST_REJOIN']);
/**
 * The producer's epoch is no longer the coordinator's: another producer took over the transactional
 * id, or the coordinator aborted a transaction that outlived TRANSACTION_TIMEOUT_MS (a broker outage
 * longer than that does it). The transport renews the producer; fencing that keeps coming back is a
 * second replica with the same id, and fatal (transport.ts).
 */
const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);
const FATAL = new Set([
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'INVALID_TRANSACTION_TIMEOUT',
]);

/** The errors in `err` and its causes that carry a broker error name, with that name, outermost first. */
export function kafkaErrorsIn(err: unknown): { code: string; error: object }[] {
  const out: { code: string; error: object }[] = [];
  const seen = new Set<unknown>();
  const walk = (e: unknown, depth: number) => {
    if (e === null || typeof e !== 'object' || seen.has(e) || depth > 8) return;
    seen.add(e);
    const o = e as Record<string, unknown>;
    for (const field of ['type', 'apiId']) {
      const v = o[field];
      if (typeof v === 'string' && /^[A-Z][A-Z0-9_]+$/.test(v)) out.push({ code: v, error: e });
    }
    walk(o.originalError, depth + 1);
    walk(o.cause, depth + 1);
    if (Array.isArray(o.errors)) for (const inner of o.errors) walk(inner, depth + 1);
  };
  walk(err, 0);
  return out;
}

/** The broker error names found in `err` and its causes, outermost first. */
export const kafkaErrorCodes = (err: unknown): string[] => kafkaErrorsIn(err).map((e) => e.code);

/** One line that says what went wrong, causes included (libs/runtime's describeError). */
export const describeKafkaError = describeError;

export function classifyKafkaError(err: unknown): KafkaErrorInfo {
  const message = describeKafkaError(err);
  const codes = kafkaErrorCodes(err);
  // A wrong password, an unknown CA or a broker that is down all look alike from here and may all
  // be fixed from outside (a rotated secret, a restarted broker): they are retried, not fatal.
  for (const [kind, set] of [['fatal', FATAL], ['fenced', FENCED], ['stale', STALE], ['refused', REFUSED]] as const) {
    const code = codes.find((c) => set.has(c));
    if (code) return { kind, code, message };
  }
  // Everything else (network errors, timeouts, NOT_LEADER_OR_FOLLOWER, COORDINATOR_LOAD_IN_PROGRESS,
  // NOT_ENOUGH_REPLICAS, CONCURRENT_TRANSACTIONS, ...) is waited out: a refusal must be named to
  // pause a partition, so an unknown error never silently parks data.
  return { kind: 'retriable', code: codes[0] ?? ((err as { name?: string })?.name ?? 'Error'), message };
}
