import { pino, type Logger } from 'pino';

/** JSON logs on stdout; secrets are redacted by path in case a caller ever logs a config object. */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: { paths: ['*.KAFKA_SASL_PASSWORD', 'KAFKA_SASL_PASSWORD', '*.password', 'password'], censor: '[redacted]' },
  });
}
