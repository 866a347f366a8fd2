package sentimentstream.interop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Apache Kafka's Java producer writing the records given on stdin, one JSON object a line:
 * {@code {"key": "k"|null, "value": "..."|null, "valueBase64": "...", "headers": {"h": "v"},
 * "partition": 3, "timestamp": 1700000000000, "abort": true}} (all but value optional).
 *
 * <p>Options: --brokers, --topic, --compression none|gzip|snappy|lz4|zstd (default none),
 * --linger-ms (20), --batch-size (65536), --acks (all). All records are sent before the first flush
 * so they batch as a real producer's would, and each batch is compressed with the codec.
 *
 * <p>--transactional-id ID: a transactional producer. Consecutive records with the same "abort" flag
 * go into one transaction of at most --records-per-transaction (default 50) records; a transaction
 * of "abort": true records is flushed (so its records really are in the log) and then aborted, the
 * others are committed. A read_committed consumer must skip every aborted record.
 *
 * <p>Several jobs in one JVM: a stdin line {"job": {"topic": "t2", "compression": "lz4"}} starts the
 * next job, with those options instead of the command line's (a fresh producer each).
 *
 * <p>stdout: one JSON line per job: topic, sent/committed/aborted counts, transactions committed/aborted, the
 * producer's own compression-rate-avg and batch-size-avg metrics, and "records": [[partition,
 * offset], ...] in input order.
 */
final class Produce {
  private Produce() {}

  private record Input(String key, byte[] value, RecordHeaders headers, Integer partition, Long timestamp, boolean abort) {}

  static int run(Map<String, String> opts) throws Exception {
    ObjectMapper json = new ObjectMapper();
    List<Map.Entry<Map<String, String>, List<Input>>> jobs = readJobs(json, opts);
    for (Map.Entry<Map<String, String>, List<Input>> job : jobs) {
      System.out.println(produce(json, job.getKey(), job.getValue()));
      System.out.flush();
    }
    return 0;
  }

  private static ObjectNode produce(ObjectMapper json, Map<String, String> opts, List<Input> inputs) throws Exception {
    String brokers = Interop.required(opts, "brokers");
    String topic = Interop.required(opts, "topic");
    String compression = opts.getOrDefault("compression", "none");
    if (!List.of("none", "gzip", "snappy", "lz4", "zstd").contains(compression)) {
      throw new IllegalArgumentException("--compression must be none, gzip, snappy, lz4 or zstd, got '" + compression + "'");
    }
    String txId = opts.get("transactional-id");
    int perTx = Interop.intOpt(opts, "records-per-transaction", 50);

    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(ProducerConfig.CLIENT_ID_CONFIG, "interop-java-producer");
    props.put(ProducerConfig.ACKS_CONFIG, opts.getOrDefault("acks", "all"));
    props.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, compression);
    props.put(ProducerConfig.LINGER_MS_CONFIG, Interop.intOpt(opts, "linger-ms", 20));
    props.put(ProducerConfig.BATCH_SIZE_CONFIG, Interop.intOpt(opts, "batch-size", 65536));
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
    props.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120_000);
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class);
    if (txId != null) {
      props.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txId);
      props.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 60_000);
    }

    long began = System.nanoTime();
    List<Future<RecordMetadata>> sent = new ArrayList<>(inputs.size());
    int committed = 0, aborted = 0, txCommitted = 0, txAborted = 0;
    ObjectNode out = json.createObjectNode();
    out.put("topic", topic);
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      if (txId == null) {
        for (Input in : inputs) sent.add(producer.send(toRecord(topic, in)));
        producer.flush();
        committed = inputs.size();
      } else {
        producer.initTransactions();
        int i = 0;
        while (i < inputs.size()) {
          boolean abort = inputs.get(i).abort();
          int end = i;
          while (end < inputs.size() && end - i < perTx && inputs.get(end).abort() == abort) end++;
          producer.beginTransaction();
          for (int k = i; k < end; k++) sent.add(producer.send(toRecord(topic, inputs.get(k))));
          // Flush first: abortTransaction() drops what is still unsent, and the aborted records must be in the log.
          producer.flush();
          if (abort) {
            producer.abortTransaction();
            aborted += end - i;
            txAborted++;
          } else {
            producer.commitTransaction();
            committed += end - i;
            txCommitted++;
          }
          i = end;
        }
      }
      ArrayNode records = out.putArray("records");
      for (Future<RecordMetadata> f : sent) {
        RecordMetadata md = f.get();
        records.addArray().add(md.partition()).add(md.offset());
      }
      out.put("compressionRateAvg", metric(producer.metrics(), "compression-rate-avg"));
      out.put("batchSizeAvg", metric(producer.metrics(), "batch-size-avg"));
      out.put("recordsPerRequestAvg", metric(producer.metrics(), "records-per-request-avg"));
    }
    out.put("sent", inputs.size());
    out.put("committed", committed);
    out.put("aborted", aborted);
    out.putObject("transactions").put("committed", txCommitted).put("aborted", txAborted);
    out.put("ms", (System.nanoTime() - began) / 1_000_000);
    return out;
  }

  private static double metric(Map<MetricName, ? extends Metric> metrics, String name) {
    for (Map.Entry<MetricName, ? extends Metric> e : metrics.entrySet()) {
      if (e.getKey().name().equals(name) && e.getKey().group().equals("producer-metrics")) {
        Object v = e.getValue().metricValue();
        return v instanceof Number n ? n.doubleValue() : Double.NaN;
      }
    }
    return Double.NaN;
  }

  private static ProducerRecord<byte[], byte[]> toRecord(String topic, Input in) {
    byte[] key = in.key() == null ? null : in.key().getBytes(StandardCharsets.UTF_8);
    return new ProducerRecord<>(topic, in.partition(), in.timestamp(), key, in.value(), in.headers());
  }

  /**
   * stdin: records, one JSON object a line. A line {"job": {"topic": ..., "compression": ..., ...}}
   * starts a new job (its fields override the command line's options, same names), so one JVM can
   * write several topics with several codecs, one producer each, one after another.
   */
  private static List<Map.Entry<Map<String, String>, List<Input>>> readJobs(ObjectMapper json, Map<String, String> cli) throws Exception {
    List<Map.Entry<Map<String, String>, List<Input>>> jobs = new ArrayList<>();
    List<Input> inputs = null;
    BufferedReader reader = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    int n = 0;
    while ((line = reader.readLine()) != null) {
      n++;
      if (line.isBlank()) continue;
      JsonNode node;
      try {
        node = json.readTree(line);
      } catch (Exception e) {
        throw new IllegalArgumentException("stdin line " + n + " is not JSON: " + e.getMessage());
      }
      if (!node.isObject()) throw new IllegalArgumentException("stdin line " + n + " is not a JSON object");
      if (node.has("job")) {
        Map<String, String> opts = new HashMap<>(cli);
        for (Iterator<Map.Entry<String, JsonNode>> it = node.get("job").fields(); it.hasNext(); ) {
          Map.Entry<String, JsonNode> e = it.next();
          if (!e.getValue().isNull()) opts.put(e.getKey(), e.getValue().asText());
        }
        inputs = new ArrayList<>();
        jobs.add(Map.entry(opts, inputs));
        continue;
      }
      if (inputs == null) {
        inputs = new ArrayList<>();
        jobs.add(Map.entry(cli, inputs));
      }
      inputs.add(toInput(node));
    }
    if (jobs.isEmpty()) jobs.add(Map.entry(cli, new ArrayList<>()));
    return jobs;
  }

  private static Input toInput(JsonNode node) {
    byte[] value;
    if (node.hasNonNull("valueBase64")) value = Base64.getDecoder().decode(node.get("valueBase64").asText());
    else if (node.hasNonNull("value")) value = node.get("value").asText().getBytes(StandardCharsets.UTF_8);
    else value = null;
    RecordHeaders headers = new RecordHeaders();
    JsonNode h = node.get("headers");
    if (h != null && h.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = h.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        headers.add(e.getKey(), e.getValue().isNull() ? null : e.getValue().asText().getBytes(StandardCharsets.UTF_8));
      }
    }
    return new Input(
        node.hasNonNull("key") ? node.get("key").asText() : null,
        value,
        headers,
        node.hasNonNull("partition") ? node.get("partition").asInt() : null,
        node.hasNonNull("timestamp") ? node.get("timestamp").asLong() : null,
        node.path("abort").asBoolean(false));
  }
}
