import { compressionsAlgorithms } from '@platformatic/kafka';
import kafkajs from 'kafkajs';

// kafkajs is CommonJS: its codec table is reached through the default export.
const { CompressionCodecs, CompressionTypes } = kafkajs;

/**
 * kafkajs 2.2.4 decodes only gzip: a snappy, lz4 or zstd batch from any other producer (or from a
 * broker or topic with compression.type=zstd) throws KafkaJSNotImplemented while decoding the whole
 * fetch response, and the consumer crash-loops. Its codec slots are filled here from
 * @platformatic/kafka's codecs (snappy and lz4 in WebAssembly from @platformatic/wasm-utils, with
 * the xerial framing Java producers use for snappy; zstd from Node's own zlib): one maintained
 * implementation for both clients, no native build and no download at install.
 */
export function registerKafkajsCodecs(): void {
  quietKafkajsTimerWarning();
  const codec = (name: 'snappy' | 'lz4' | 'zstd') => {
    const algo = compressionsAlgorithms[name];
    return () => ({
      compress: async (encoder: { buffer: Buffer }) => Buffer.from(algo.compressSync(encoder.buffer)),
      decompress: async (buffer: Buffer) => Buffer.from(algo.decompressSync(buffer)),
    });
  };
  CompressionCodecs[CompressionTypes.Snappy] = codec('snappy');
  CompressionCodecs[CompressionTypes.LZ4] = codec('lz4');
  CompressionCodecs[CompressionTypes.ZSTD] = codec('zstd');
}

let quieted = false;

/**
 * kafkajs 2.2.4's request queue schedules its pending-request check with a delay computed from an
 * unset timestamp (-Date.now()); Node 24 clamps it to 1 ms, as older Nodes did silently, and prints
 * a TimeoutNegativeWarning on stderr once per process. Harmless and unfixable upstream (no kafkajs
 * release since 2023): that one warning, raised from kafkajs, is dropped; every other goes through.
 */
export function quietKafkajsTimerWarning(): void {
  if (quieted) return;
  quieted = true;
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === 'TimeoutNegativeWarning' && /kafkajs[\\/]src[\\/]network[\\/]requestQueue/.test(new Error().stack ?? '')) return;
    emitWarning(warning, ...rest);
  }) as typeof process.emitWarning;
}
