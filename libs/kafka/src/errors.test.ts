import { describe, expect, it } from 'vitest';
import { classifyKafkaError, kafkaErrorCodes, kafkaErrorsIn } from './errors.js';

describe('kafka errors', () => {
  it('finds the broker error inside kafkajs wrappers, the error object with it', () => {
    const refused = Object.assign(new Error('This is not the correct coordinator for this group'), { type: 'NOT_COORDINATOR_FOR_GROUP' });
    const exhausted = Object.assign(new Error(refused.message), { name: 'KafkaJSNumberOfRetriesExceeded', cause: refused });
    expect(kafkaErrorsIn(exhausted)).toEqual([{ code: 'NOT_COORDINATOR_FOR_GROUP', error: refused }]);
    expect(kafkaErrorCodes(exhausted)).toEqual(['NOT_COORDINATOR_FOR_GROUP']);
    expect(classifyKafkaError(exhausted).kind).toBe('retriable');
  });

  it('a commit only a rejoin can make (MEMBER_MUST_REJOIN, the kafkajs driver\'s own) is stale: not retried', () => {
    const err = Object.assign(new Error('not the coordinator: kafkajs finds the new one when it rejoins'), { type: 'MEMBER_MUST_REJOIN' });
    expect(classifyKafkaError(err)).toMatchObject({ kind: 'stale', code: 'MEMBER_MUST_REJOIN' });
  });

  it('@platformatic/kafka aggregates: codes of every inner error, outermost first', () => {
    const err = Object.assign(new Error('Producing messages failed.'), { errors: [{ apiId: 'NOT_LEADER_OR_FOLLOWER' }, { apiId: 'MESSAGE_TOO_LARGE' }] });
    expect(kafkaErrorCodes(err)).toEqual(['NOT_LEADER_OR_FOLLOWER', 'MESSAGE_TOO_LARGE']);
    expect(classifyKafkaError(err).kind).toBe('refused');
  });
});
