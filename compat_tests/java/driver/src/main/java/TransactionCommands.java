// KafkaClientDriver's commands for fencing and consume-transform-produce
// (compat_tests/clients/java.py; the protocol is KafkaClientDriver's):
//
//   fenced_transaction  topic, transactional_id, first, second, late: [{partition, key, value}]
//                       (producer a begins a transaction and sends first; producer b with the same
//                       transactional.id initialises, which fences a, and commits second; a sends
//                       late and commits) -> {send: null | exception name, commit: null | exception name}
//   transform           source, target, group, count, transactional_id, commit, hold, timeout_ms
//                       (the producer initialised first; partition 0 of source assigned, read_committed,
//                       from group's committed offset or the earliest; count records copied to partition 0
//                       of target in one transaction with sendOffsetsToTransaction, then commit or abort.
//                       hold: print {"held": {records}} instead and wait to be killed, aborting after 60 s)
//                       -> {records: [{partition, offset, value}]}

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

final class TransactionCommands {
    private static final long TIMEOUT_MS = 30_000;
    private static final long HOLD_MS = 60_000;

    private TransactionCommands() {
    }

    static Object fencedTransaction(String bootstrap, Map<String, Object> command) throws Exception {
        String topic = (String) command.get("topic");
        String transactionalId = (String) command.get("transactional_id");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("send", null);
        out.put("commit", null);
        KafkaProducer<byte[], byte[]> a = producer(bootstrap, transactionalId);
        KafkaProducer<byte[], byte[]> b = null;
        try {
            a.initTransactions();
            a.beginTransaction();
            send(a, topic, command.get("first"));
            b = producer(bootstrap, transactionalId);
            b.initTransactions();
            b.beginTransaction();
            send(b, topic, command.get("second"));
            b.commitTransaction();
            try {
                send(a, topic, command.get("late"));
            } catch (Exception e) {
                out.put("send", name(e));
            }
            try {
                a.commitTransaction();
            } catch (Exception e) {
                out.put("commit", name(e));
            }
        } finally {
            a.close(Duration.ofSeconds(5));
            if (b != null) b.close(Duration.ofSeconds(5));
        }
        return out;
    }

    static Object transform(String bootstrap, Map<String, Object> command) throws Exception {
        int count = ((Number) command.get("count")).intValue();
        String group = (String) command.get("group");
        String target = (String) command.get("target");
        TopicPartition source = new TopicPartition((String) command.get("source"), 0);
        long deadline = System.currentTimeMillis() + ((Number) command.getOrDefault("timeout_ms", TIMEOUT_MS)).longValue();
        Properties config = new Properties();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        config.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        config.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, Math.max(1, count));
        config.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
        config.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) TIMEOUT_MS);
        List<Object> records = new ArrayList<>();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("records", records);
        try (KafkaProducer<byte[], byte[]> producer = producer(bootstrap, (String) command.get("transactional_id"))) {
            // First, so that a transaction a killed predecessor left open is aborted before we read.
            producer.initTransactions();
            try (KafkaConsumer<byte[], byte[]> consumer =
                     new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                consumer.assign(List.of(source));
                producer.beginTransaction();
                long next = -1;
                while (records.size() < count && System.currentTimeMillis() < deadline) {
                    for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                        if (records.size() >= count) break;
                        Map<String, Object> r = new LinkedHashMap<>();
                        r.put("partition", record.partition());
                        r.put("offset", record.offset());
                        r.put("value", record.value() == null ? null : new String(record.value(), StandardCharsets.UTF_8));
                        records.add(r);
                        producer.send(new ProducerRecord<>(target, 0, record.key(), record.value()));
                        next = record.offset() + 1;
                    }
                }
                producer.flush();
                if (next >= 0) producer.sendOffsetsToTransaction(Map.of(source, new OffsetAndMetadata(next)), consumer.groupMetadata());
                if (Boolean.TRUE.equals(command.get("hold"))) {
                    System.out.println(KafkaClientDriver.Json.write(Map.of("held", out)));
                    System.out.flush();
                    Thread.sleep(HOLD_MS);
                    producer.abortTransaction();
                } else if (Boolean.TRUE.equals(command.get("commit"))) {
                    producer.commitTransaction();
                } else {
                    producer.abortTransaction();
                }
            }
        }
        return out;
    }

    private static KafkaProducer<byte[], byte[]> producer(String bootstrap, String transactionalId) {
        Properties config = new Properties();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        config.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        config.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) TIMEOUT_MS);
        config.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15_000);
        config.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, TIMEOUT_MS);
        return new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
    }

    /** Sends the records and waits for each: the first failure is thrown. */
    private static void send(KafkaProducer<byte[], byte[]> producer, String topic, Object records) throws Exception {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (Object item : (List<?>) records) {
            @SuppressWarnings("unchecked") Map<String, Object> r = (Map<String, Object>) item;
            Object partition = r.get("partition");
            sent.add(producer.send(new ProducerRecord<>(topic, partition == null ? null : ((Number) partition).intValue(),
                bytes(r.get("key")), bytes(r.get("value")))));
        }
        producer.flush();
        for (Future<RecordMetadata> future : sent) future.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
    }

    private static String name(Exception e) {
        Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
        return cause.getClass().getSimpleName();
    }

    private static byte[] bytes(Object base64) {
        return base64 == null ? null : Base64.getDecoder().decode((String) base64);
    }
}
