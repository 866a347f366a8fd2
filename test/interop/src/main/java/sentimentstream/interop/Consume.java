package sentimentstream.interop;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * Apache Kafka's Java consumer reading every partition of --topics (comma-separated) from the
 * beginning until its position reaches the partition's end offset, taken once at the start: the last
 * stable offset with --isolation read_committed (the default), the high watermark with
 * read_uncommitted. No consumer group (assign + seekToBeginning), so nothing is committed.
 *
 * <p>stdout, one JSON line each: {"type":"record","topic","partition","offset","timestamp",
 * "timestampType","key","value","headers":[[k,v],...]} (UTF-8 strings; with --base64 true also
 * "keyBase64"/"valueBase64"), then {"type":"end","endOffsets":[[topic,partition,offset],...],
 * "records":n}. A fetch the client cannot decode (a corrupt batch) gives {"type":"error",
 * "message":...} and exit code 3; not reaching the end within --timeout-ms (default 60000) gives
 * {"type":"timeout","behind":[[topic,partition,position,end],...]} and exit code 4.
 */
final class Consume {
  private Consume() {}

  static int run(Map<String, String> opts) throws Exception {
    String brokers = Interop.required(opts, "brokers");
    List<String> topics = List.of(Interop.required(opts, "topics").split(","));
    String isolation = opts.getOrDefault("isolation", "read_committed");
    if (!isolation.equals("read_committed") && !isolation.equals("read_uncommitted")) {
      throw new IllegalArgumentException("--isolation must be read_committed or read_uncommitted, got '" + isolation + "'");
    }
    int timeoutMs = Interop.intOpt(opts, "timeout-ms", 60_000);
    boolean base64 = Boolean.parseBoolean(opts.getOrDefault("base64", "false"));

    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    props.put(ConsumerConfig.CLIENT_ID_CONFIG, "interop-java-consumer");
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    props.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, false);
    props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    props.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
    props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000);
    props.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);
    props.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class);

    ObjectMapper json = new ObjectMapper();
    BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16);
    long deadline = System.currentTimeMillis() + timeoutMs;
    int count = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      List<TopicPartition> tps = new ArrayList<>();
      for (String topic : topics) {
        List<PartitionInfo> parts = consumer.partitionsFor(topic, Duration.ofMillis(timeoutMs));
        if (parts == null || parts.isEmpty()) throw new IllegalArgumentException("topic '" + topic + "' does not exist");
        for (PartitionInfo p : parts) tps.add(new TopicPartition(topic, p.partition()));
      }
      consumer.assign(tps);
      consumer.seekToBeginning(tps);
      Map<TopicPartition, Long> end = consumer.endOffsets(tps, Duration.ofMillis(timeoutMs));
      while (true) {
        List<TopicPartition> behind = new ArrayList<>();
        for (TopicPartition tp : tps) if (consumer.position(tp) < end.get(tp)) behind.add(tp);
        if (behind.isEmpty()) break;
        if (System.currentTimeMillis() > deadline) {
          ObjectNode t = json.createObjectNode().put("type", "timeout");
          ArrayNode b = t.putArray("behind");
          for (TopicPartition tp : behind) b.addArray().add(tp.topic()).add(tp.partition()).add(consumer.position(tp)).add(end.get(tp));
          out.write(t.toString());
          out.newLine();
          out.flush();
          return 4;
        }
        ConsumerRecords<byte[], byte[]> records;
        try {
          records = consumer.poll(Duration.ofMillis(200));
        } catch (KafkaException e) {
          out.write(json.createObjectNode().put("type", "error").put("message", Interop.describe(e)).toString());
          out.newLine();
          out.flush();
          return 3;
        }
        for (ConsumerRecord<byte[], byte[]> r : records) {
          ObjectNode o = json.createObjectNode();
          o.put("type", "record").put("topic", r.topic()).put("partition", r.partition()).put("offset", r.offset());
          o.put("timestamp", r.timestamp()).put("timestampType", r.timestampType().name);
          o.put("key", r.key() == null ? null : new String(r.key(), StandardCharsets.UTF_8));
          o.put("value", r.value() == null ? null : new String(r.value(), StandardCharsets.UTF_8));
          if (base64) {
            o.put("keyBase64", r.key() == null ? null : Base64.getEncoder().encodeToString(r.key()));
            o.put("valueBase64", r.value() == null ? null : Base64.getEncoder().encodeToString(r.value()));
          }
          ArrayNode hs = o.putArray("headers");
          for (Header h : r.headers()) hs.addArray().add(h.key()).add(h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8));
          out.write(o.toString());
          out.newLine();
          count++;
        }
      }
      ObjectNode e = json.createObjectNode().put("type", "end").put("records", count);
      ArrayNode eo = e.putArray("endOffsets");
      for (TopicPartition tp : tps) eo.addArray().add(tp.topic()).add(tp.partition()).add(end.get(tp));
      out.write(e.toString());
      out.newLine();
    }
    out.flush();
    return 0;
  }
}
