// One consumer-group member in a JVM of its own, for compat_tests' base.MemberProcess:
//
//   java -cp <classes:classpath> GroupMember BOOTSTRAP '[{"topic": ..., "group": ..., "session_timeout_ms": ...,
//                                                       "instance_id": null | "...", "protocol": "classic" | "consumer"}]'
//
// It subscribes from the earliest offset without auto-commit and prints JSON
// lines: {"assigned": [p], "generation": g} after each assignment (the whole
// assignment; the generation of consumer.groupMetadata()), {"revoked": [p]}
// and {"lost": [p]} from its rebalance listener, {"records": [{partition,
// offset, value}]} for each poll before committing it (commitSync), and
// {"commit_error": name} when that commit fails. SIGTERM (a shutdown hook)
// wakes the poll and waits for the consumer's close: a dynamic member leaves
// the group, a static one does not (kafka-clients' own behaviour). SIGKILL
// is a crash.

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class GroupMember {
    private static volatile boolean stopping;

    public static void main(String[] args) throws Exception {
        @SuppressWarnings("unchecked")
        Map<String, Object> command = (Map<String, Object>) KafkaClientDriver.Json.parseList(args[1]).get(0);
        String topic = (String) command.get("topic");
        int session = ((Number) command.get("session_timeout_ms")).intValue();
        Properties config = new Properties();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        config.put(ConsumerConfig.GROUP_ID_CONFIG, command.get("group"));
        config.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, command.getOrDefault("protocol", "classic"));
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        config.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
        if ("classic".equals(config.get(ConsumerConfig.GROUP_PROTOCOL_CONFIG))) {
            // The consumer protocol takes both from the broker's group config instead.
            config.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, session);
            config.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, session / 3);
        }
        if (command.get("instance_id") != null) config.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, command.get("instance_id"));
        KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        TreeSet<Integer> owned = new TreeSet<>();
        consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                for (TopicPartition tp : partitions) owned.add(tp.partition());
                emit(Map.of("assigned", new ArrayList<>(owned), "generation", consumer.groupMetadata().generationId()));
            }

            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                emit(Map.of("revoked", gaveUp(owned, partitions)));
            }

            @Override
            public void onPartitionsLost(Collection<TopicPartition> partitions) {
                emit(Map.of("lost", gaveUp(owned, partitions)));
            }
        });
        Thread main = Thread.currentThread();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopping = true;
            consumer.wakeup();
            try {
                main.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
        try {
            while (!stopping) {
                ConsumerRecords<byte[], byte[]> polled;
                try {
                    polled = consumer.poll(Duration.ofMillis(100));
                } catch (WakeupException e) {
                    break;
                }
                if (polled.isEmpty()) continue;
                List<Object> records = new ArrayList<>();
                Map<TopicPartition, OffsetAndMetadata> commit = new HashMap<>();
                for (ConsumerRecord<byte[], byte[]> r : polled) {
                    Map<String, Object> record = new LinkedHashMap<>();
                    record.put("partition", r.partition());
                    record.put("offset", r.offset());
                    record.put("value", r.value() == null ? null : new String(r.value(), StandardCharsets.UTF_8));
                    records.add(record);
                    commit.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                emit(Map.of("records", records));
                try {
                    consumer.commitSync(commit);
                } catch (WakeupException e) {
                    break;
                } catch (org.apache.kafka.common.KafkaException e) {
                    emit(Map.of("commit_error", e.getClass().getSimpleName()));
                }
            }
        } finally {
            consumer.close();
        }
    }

    private static List<Integer> gaveUp(TreeSet<Integer> owned, Collection<TopicPartition> partitions) {
        TreeSet<Integer> out = new TreeSet<>();
        for (TopicPartition tp : partitions) out.add(tp.partition());
        owned.removeAll(out);
        return new ArrayList<>(out);
    }

    private static synchronized void emit(Map<String, Object> event) {
        System.out.println(KafkaClientDriver.Json.write(event));
        System.out.flush();
    }
}
