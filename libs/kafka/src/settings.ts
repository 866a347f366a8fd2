import { ConfigError, boolean, list, oneOf, optionalString, string, type ConfigOf } from '@sentiment-stream/config';

/** How to reach the cluster; shared by every process that talks to Kafka. */
export const kafkaSettings = {
  KAFKA_BROKERS: list({ doc: 'Bootstrap brokers, `host:port`, comma-separated.', default: ['127.0.0.1:9092'] }),
  KAFKA_CLIENT_ID: string({ doc: 'Client id sent to the brokers (shows in broker logs and quotas).', default: 'sentiment-stream' }),
  KAFKA_SSL: boolean({ doc: 'Connect with TLS.', default: false }),
  KAFKA_SSL_CA_FILE: optionalString({ doc: 'PEM file of the CA that signed the brokers\' certificates (default: the system CAs).' }),
  KAFKA_SASL_MECHANISM: oneOf(['none', 'plain', 'scram-sha-256', 'scram-sha-512'] as const, {
    doc: 'SASL mechanism; `plain` only over TLS in production.',
    default: 'none',
  }),
  KAFKA_SASL_USERNAME: optionalString({ doc: 'SASL user name.' }),
  KAFKA_SASL_PASSWORD: optionalString({ doc: 'SASL password.', secret: true }),
};
export type KafkaSettings = ConfigOf<typeof kafkaSettings>;

/** Rules that span variables; run after loadConfig. */
export function checkKafkaSettings(s: KafkaSettings): void {
  if (s.KAFKA_SASL_MECHANISM === 'none') return;
  if (!s.KAFKA_SASL_USERNAME) throw new ConfigError('KAFKA_SASL_USERNAME', `is required when KAFKA_SASL_MECHANISM=${s.KAFKA_SASL_MECHANISM}`);
  if (!s.KAFKA_SASL_PASSWORD) throw new ConfigError('KAFKA_SASL_PASSWORD', `is required when KAFKA_SASL_MECHANISM=${s.KAFKA_SASL_MECHANISM}`);
  for (const broker of s.KAFKA_BROKERS) {
    if (!/^[^:\s]+:\d{1,5}$/.test(broker)) throw new ConfigError('KAFKA_BROKERS', `must list host:port pairs (got "${broker}")`);
  }
}
