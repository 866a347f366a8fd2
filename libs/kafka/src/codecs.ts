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
