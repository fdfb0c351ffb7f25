// Drives the Java kafka-clients for tests/broker/test_java_clients.py.
//
//   java -cp <classes:classpath> KafkaClientDriver BOOTSTRAP < commands.json
//
// stdin is a JSON list of commands; for each, one line of JSON goes to stdout,
// {"ok": RESULT} or {"error": "ExceptionSimpleName", "message": "..."}, so one
// JVM start serves a whole scenario. Byte strings (keys, values, header
// values) travel as base64, null as null. Commands ("op" and its fields):
//
//   create_topics     topics: [{name, partitions, replication_factor, configs: {}}]
//                     -> {name: null | {error, message}}
//   list_topics       -> sorted names
//   describe_topics   topics: [name] -> {name: {id, internal, partitions: [{partition, leader, replicas, isr}]}}
//   delete_topics     topics: [name] -> {name: null | {error, message}}
//   create_partitions topic, count -> null
//   describe_configs  topic -> [{name, value, source, default, read_only, sensitive, synonyms: [[name, value, source]]}]
//   alter_configs     topic, set: {name: value}, delete: [name] (incrementalAlterConfigs) -> null
//   describe_cluster  -> {cluster_id, controller, nodes: [{id, host, port}]}
//   produce           topic, config: {producer property: value}, records: [{partition, key, value,
//                     timestamp, headers: [[name, value]]}] -> [{partition, offset, timestamp}]
//   consume           topic, partition, offset, count, config: {} (assign + seek, no group; a null
//                     offset: no seek, so the committed offset of config's group.id or auto.offset.reset)
//                     -> [{partition, offset, timestamp, timestamp_type, key, value, headers, leader_epoch}]
//   offsets           topic, partitions: [p], times: [ms] (offsetsForTimes, beginningOffsets, endOffsets)
//                     -> {beginning: {p: o}, end: {p: o}, for_times: {"ms": {p: null | [offset, timestamp]}}}
//   transactions      topic, config (with transactional.id), transactions: [{records: [{partition, key, value,
//                     headers}], group, offsets: {p: offset}, commit}] -> per transaction [{partition, offset, timestamp}]
//   group_consume     topic, group, protocol ("classic" | "consumer"), count, assigned (optional: also
//                     poll until this many partitions are assigned), timeout_ms, config: {}
//                     (subscribe; poll until count records, and the assignment size if given, or the
//                     timeout; commitSync of the offsets after the records returned; close)
//                     -> {assigned: [p], records: [{partition, offset, value}], committed: {p: offset}}
//   group_rebalance, describe_groups, list_groups, delete_groups, group_offsets: see GroupCommands
//   fenced_transaction, transform: see TransactionCommands.java
//
// Admin calls are bounded by default.api.timeout.ms, producer sends by
// delivery.timeout.ms, consumes by a deadline; the test bounds the JVM too.

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class KafkaClientDriver {
    private static final long TIMEOUT_MS = 30_000;
    private final String bootstrap;
    private Admin admin;

    KafkaClientDriver(String bootstrap) {
        this.bootstrap = bootstrap;
    }

    public static void main(String[] args) throws Exception {
        KafkaClientDriver driver = new KafkaClientDriver(args[0]);
        List<Object> commands = Json.parseList(new String(readAll(System.in), StandardCharsets.UTF_8));
        try {
            for (Object command : commands) {
                Map<String, Object> result = new LinkedHashMap<>();
                try {
                    result.put("ok", driver.run(map(command)));
                } catch (Exception e) {
                    Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
                    result.put("error", cause.getClass().getSimpleName());
                    result.put("message", cause.getMessage());
                }
                System.out.println(Json.write(result));
                System.out.flush();
            }
        } finally {
            if (driver.admin != null) driver.admin.close(Duration.ofSeconds(5));
        }
    }

    Object run(Map<String, Object> command) throws Exception {
        String op = (String) command.get("op");
        switch (op) {
            case "create_topics": return createTopics(command);
            case "list_topics": return new ArrayList<>(new java.util.TreeSet<>(admin().listTopics().names().get()));
            case "describe_topics": return describeTopics(command);
            case "delete_topics": return perName(admin().deleteTopics(strings(command.get("topics"))).topicNameValues());
            case "create_partitions":
                admin().createPartitions(Map.of((String) command.get("topic"),
                    NewPartitions.increaseTo(integer(command.get("count"))))).all().get();
                return null;
            case "describe_configs": return describeConfigs(command);
            case "alter_configs": return alterConfigs(command);
            case "describe_cluster": return describeCluster();
            case "produce": return produce(command);
            case "transactions": return transactions(command);
            case "consume": return consume(command);
            case "offsets": return offsets(command);
            case "group_consume": return groupConsume(command);
            case "group_rebalance": return GroupCommands.rebalance(bootstrap, command);
            case "describe_groups": return GroupCommands.describeGroups(admin(), command);
            case "list_groups": return GroupCommands.listGroups(admin());
            case "delete_groups": return GroupCommands.deleteGroups(admin(), command);
            case "group_offsets": return GroupCommands.groupOffsets(admin(), command);
            case "fenced_transaction": return TransactionCommands.fencedTransaction(bootstrap, command);
            case "transform": return TransactionCommands.transform(bootstrap, command);
            default: throw new IllegalArgumentException("unknown op " + op);
        }
    }

    // -- admin ----------------------------------------------------------------

    private Admin admin() {
        if (admin == null) {
            Properties config = new Properties();
            config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) TIMEOUT_MS);
            config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 15_000);
            admin = Admin.create(config);
        }
        return admin;
    }

    private Object createTopics(Map<String, Object> command) throws Exception {
        List<NewTopic> topics = new ArrayList<>();
        for (Object item : (List<?>) command.get("topics")) {
            Map<String, Object> spec = map(item);
            NewTopic topic = new NewTopic((String) spec.get("name"), integer(spec.getOrDefault("partitions", 1)),
                (short) integer(spec.getOrDefault("replication_factor", 1)));
            Map<String, String> configs = new HashMap<>();
            map(spec.getOrDefault("configs", Map.of())).forEach((k, v) -> configs.put(k, (String) v));
            topics.add(topic.configs(configs));
        }
        return perName(admin().createTopics(topics).values());
    }

    /** Per name (topic or group): null when its future succeeded, else {@link #error}. */
    static Map<String, Object> perName(Map<String, ? extends KafkaFuture<?>> futures) throws InterruptedException {
        Map<String, Object> out = new TreeMap<>();
        for (Map.Entry<String, ? extends KafkaFuture<?>> entry : futures.entrySet()) {
            try {
                entry.getValue().get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
                out.put(entry.getKey(), null);
            } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                out.put(entry.getKey(), error(e));
            }
        }
        return out;
    }

    static Map<String, Object> error(Exception e) {
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("error", cause.getClass().getSimpleName());
        error.put("message", cause.getMessage());
        return error;
    }

    private Object describeTopics(Map<String, Object> command) throws Exception {
        Map<String, TopicDescription> descriptions = admin().describeTopics(strings(command.get("topics"))).allTopicNames().get();
        Map<String, Object> out = new TreeMap<>();
        for (TopicDescription description : descriptions.values()) {
            List<Object> partitions = new ArrayList<>();
            for (TopicPartitionInfo info : description.partitions()) {
                Map<String, Object> p = new LinkedHashMap<>();
                p.put("partition", info.partition());
                p.put("leader", info.leader() == null ? null : info.leader().id());
                p.put("replicas", nodeIds(info.replicas()));
                p.put("isr", nodeIds(info.isr()));
                partitions.add(p);
            }
            Map<String, Object> topic = new LinkedHashMap<>();
            topic.put("id", description.topicId().toString());
            topic.put("internal", description.isInternal());
            topic.put("partitions", partitions);
            out.put(description.name(), topic);
        }
        return out;
    }

    private static List<Object> nodeIds(List<Node> nodes) {
        List<Object> ids = new ArrayList<>();
        for (Node node : nodes) ids.add(node.id());
        return ids;
    }

    private Object describeConfigs(Map<String, Object> command) throws Exception {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, (String) command.get("topic"));
        org.apache.kafka.clients.admin.DescribeConfigsOptions options =
            new org.apache.kafka.clients.admin.DescribeConfigsOptions().includeSynonyms(true);
        Config config = admin().describeConfigs(List.of(resource), options).all().get().get(resource);
        List<Object> out = new ArrayList<>();
        for (ConfigEntry entry : config.entries()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", entry.name());
            e.put("value", entry.value());
            e.put("source", entry.source().name());
            e.put("default", entry.isDefault());
            e.put("read_only", entry.isReadOnly());
            e.put("sensitive", entry.isSensitive());
            List<Object> synonyms = new ArrayList<>();
            for (ConfigEntry.ConfigSynonym s : entry.synonyms()) synonyms.add(List.of(s.name(), String.valueOf(s.value()), s.source().name()));
            e.put("synonyms", synonyms);
            out.add(e);
        }
        return out;
    }

    private Object alterConfigs(Map<String, Object> command) throws Exception {
        ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, (String) command.get("topic"));
        List<AlterConfigOp> ops = new ArrayList<>();
        map(command.getOrDefault("set", Map.of())).forEach((k, v) ->
            ops.add(new AlterConfigOp(new ConfigEntry(k, (String) v), AlterConfigOp.OpType.SET)));
        for (String name : strings(command.getOrDefault("delete", List.of())))
            ops.add(new AlterConfigOp(new ConfigEntry(name, ""), AlterConfigOp.OpType.DELETE));
        admin().incrementalAlterConfigs(Map.of(resource, ops)).all().get();
        return null;
    }

    private Object describeCluster() throws Exception {
        DescribeClusterResult cluster = admin().describeCluster();
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("cluster_id", cluster.clusterId().get());
        Node controller = cluster.controller().get();
        out.put("controller", controller == null ? null : controller.id());
        List<Object> nodes = new ArrayList<>();
        for (Node node : cluster.nodes().get()) {
            Map<String, Object> n = new LinkedHashMap<>();
            n.put("id", node.id());
            n.put("host", node.host());
            n.put("port", node.port());
            nodes.add(n);
        }
        out.put("nodes", nodes);
        return out;
    }

    // -- producer and consumer ------------------------------------------------

    private Object produce(Map<String, Object> command) throws Exception {
        String topic = (String) command.get("topic");
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = producer(command)) {
            for (Object item : (List<?>) command.get("records")) {
                Map<String, Object> r = map(item);
                RecordHeaders headers = new RecordHeaders();
                for (Object h : (List<?>) r.getOrDefault("headers", List.of())) {
                    List<?> pair = (List<?>) h;
                    headers.add((String) pair.get(0), bytes(pair.get(1)));
                }
                Object partition = r.get("partition");
                Object timestamp = r.get("timestamp");
                sent.add(producer.send(new ProducerRecord<>(topic,
                    partition == null ? null : integer(partition),
                    timestamp == null ? null : ((Number) timestamp).longValue(),
                    bytes(r.get("key")), bytes(r.get("value")), headers)));
            }
            producer.flush();
            List<Object> out = new ArrayList<>();
            for (Future<RecordMetadata> future : sent) {
                RecordMetadata metadata = future.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("partition", metadata.partition());
                m.put("offset", metadata.offset());
                m.put("timestamp", metadata.timestamp());
                out.add(m);
            }
            return out;
        }
    }

    /** One transactional producer (config must name transactional.id) runs the
     * transactions in order: each sends its records (and, with "group", the
     * offsets through sendOffsetsToTransaction), then commits or aborts.
     * Answers per transaction the records' partitions and offsets. */
    private Object transactions(Map<String, Object> command) throws Exception {
        String topic = (String) command.get("topic");
        List<Object> out = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = producer(command)) {
            producer.initTransactions();
            for (Object item : (List<?>) command.get("transactions")) {
                Map<String, Object> txn = map(item);
                producer.beginTransaction();
                List<Future<RecordMetadata>> sent = new ArrayList<>();
                for (Object r : (List<?>) txn.get("records")) {
                    Map<String, Object> record = map(r);
                    Object partition = record.get("partition");
                    RecordHeaders headers = new RecordHeaders();
                    for (Object h : (List<?>) record.getOrDefault("headers", List.of())) {
                        List<?> pair = (List<?>) h;
                        headers.add((String) pair.get(0), bytes(pair.get(1)));
                    }
                    sent.add(producer.send(new ProducerRecord<>(topic, partition == null ? null : integer(partition), null,
                        bytes(record.get("key")), bytes(record.get("value")), headers)));
                }
                producer.flush();
                List<Object> written = new ArrayList<>();
                for (Future<RecordMetadata> future : sent) {
                    RecordMetadata metadata = future.get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
                    written.add(Map.of("partition", metadata.partition(), "offset", metadata.offset(), "timestamp", metadata.timestamp()));
                }
                if (txn.get("group") != null) {
                    Map<TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> offsets = new HashMap<>();
                    map(txn.get("offsets")).forEach((p, o) -> offsets.put(new TopicPartition(topic, Integer.parseInt(p)),
                        new org.apache.kafka.clients.consumer.OffsetAndMetadata(((Number) o).longValue())));
                    producer.sendOffsetsToTransaction(offsets, new org.apache.kafka.clients.consumer.ConsumerGroupMetadata((String) txn.get("group")));
                }
                if (Boolean.TRUE.equals(txn.get("commit"))) {
                    producer.commitTransaction();
                } else {
                    producer.abortTransaction();
                }
                out.add(written);
            }
        }
        return out;
    }

    private KafkaProducer<byte[], byte[]> producer(Map<String, Object> command) {
        Properties config = new Properties();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, (int) TIMEOUT_MS);
        config.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15_000);
        config.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, TIMEOUT_MS);
        map(command.getOrDefault("config", Map.of())).forEach((k, v) -> config.put(k, String.valueOf(v)));
        return new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer());
    }

    private KafkaConsumer<byte[], byte[]> consumer(Map<String, Object> command) {
        Properties config = new Properties();
        config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        config.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) TIMEOUT_MS);
        config.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 15_000);
        map(command.getOrDefault("config", Map.of())).forEach((k, v) -> config.put(k, String.valueOf(v)));
        return new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private Object consume(Map<String, Object> command) {
        TopicPartition partition = new TopicPartition((String) command.get("topic"), integer(command.get("partition")));
        int count = integer(command.get("count"));
        long deadline = System.currentTimeMillis() + ((Number) command.getOrDefault("timeout_ms", 20_000)).longValue();
        List<Object> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(command)) {
            consumer.assign(List.of(partition));
            // A null offset starts from the group's committed offset (config group.id), or else auto.offset.reset.
            if (command.get("offset") != null) consumer.seek(partition, ((Number) command.get("offset")).longValue());
            while (out.size() < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (out.size() >= count) break;
                    Map<String, Object> r = new LinkedHashMap<>();
                    r.put("partition", record.partition());
                    r.put("offset", record.offset());
                    r.put("timestamp", record.timestamp());
                    r.put("timestamp_type", record.timestampType().name);
                    r.put("key", base64(record.key()));
                    r.put("value", base64(record.value()));
                    List<Object> headers = new ArrayList<>();
                    for (Header h : record.headers()) headers.add(java.util.Arrays.asList(h.key(), base64(h.value())));
                    r.put("headers", headers);
                    r.put("leader_epoch", record.leaderEpoch().orElse(null));
                    out.add(r);
                }
            }
        }
        return out;
    }

    private Object groupConsume(Map<String, Object> command) {
        String topic = (String) command.get("topic");
        int count = integer(command.get("count"));
        Object assignedWanted = command.get("assigned");
        long deadline = System.currentTimeMillis() + ((Number) command.getOrDefault("timeout_ms", 30_000)).longValue();
        Map<String, Object> config = new LinkedHashMap<>();
        config.put(ConsumerConfig.GROUP_ID_CONFIG, command.get("group"));
        config.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, command.getOrDefault("protocol", "classic"));
        config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        config.putAll(map(command.getOrDefault("config", Map.of())));
        Map<String, Object> withConfig = new LinkedHashMap<>(command);
        withConfig.put("config", config);
        List<Object> records = new ArrayList<>();
        Map<TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> toCommit = new HashMap<>();
        Map<String, Object> out = new LinkedHashMap<>();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(withConfig)) {
            consumer.subscribe(List.of(topic));
            while (System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(100))) {
                    if (records.size() >= count) break;
                    Map<String, Object> r = new LinkedHashMap<>();
                    r.put("partition", record.partition());
                    r.put("offset", record.offset());
                    r.put("value", new String(record.value(), StandardCharsets.UTF_8));
                    records.add(r);
                    toCommit.put(new TopicPartition(record.topic(), record.partition()),
                        new org.apache.kafka.clients.consumer.OffsetAndMetadata(record.offset() + 1));
                }
                if (records.size() >= count
                        && (assignedWanted == null || consumer.assignment().size() == integer(assignedWanted))) break;
            }
            // Only the taken records are committed (a poll may return more than count).
            if (!toCommit.isEmpty()) consumer.commitSync(toCommit);
            List<Integer> assigned = new ArrayList<>();
            for (TopicPartition tp : consumer.assignment()) assigned.add(tp.partition());
            java.util.Collections.sort(assigned);
            out.put("assigned", assigned);
            out.put("records", records);
            Map<String, Object> committed = new TreeMap<>();
            Set<TopicPartition> mine = consumer.assignment();
            consumer.committed(mine).forEach((tp, om) -> committed.put(String.valueOf(tp.partition()), om == null ? null : om.offset()));
            out.put("committed", committed);
        }
        return out;
    }

    private Object offsets(Map<String, Object> command) {
        String topic = (String) command.get("topic");
        List<TopicPartition> partitions = new ArrayList<>();
        for (Object p : (List<?>) command.get("partitions")) partitions.add(new TopicPartition(topic, integer(p)));
        Map<String, Object> out = new LinkedHashMap<>();
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(command)) {
            out.put("beginning", byPartition(consumer.beginningOffsets(partitions)));
            out.put("end", byPartition(consumer.endOffsets(partitions)));
            Map<String, Object> forTimes = new LinkedHashMap<>();
            for (Object time : (List<?>) command.getOrDefault("times", List.of())) {
                long ms = ((Number) time).longValue();
                Map<TopicPartition, Long> query = new HashMap<>();
                for (TopicPartition tp : partitions) query.put(tp, ms);
                Map<String, Object> found = new TreeMap<>();
                for (Map.Entry<TopicPartition, OffsetAndTimestamp> e : consumer.offsetsForTimes(query).entrySet()) {
                    OffsetAndTimestamp ot = e.getValue();
                    found.put(String.valueOf(e.getKey().partition()), ot == null ? null : List.of(ot.offset(), ot.timestamp()));
                }
                forTimes.put(String.valueOf(ms), found);
            }
            out.put("for_times", forTimes);
        }
        return out;
    }

    private static Map<String, Object> byPartition(Map<TopicPartition, Long> offsets) {
        Map<String, Object> out = new TreeMap<>();
        offsets.forEach((tp, offset) -> out.put(String.valueOf(tp.partition()), offset));
        return out;
    }

    // -- small helpers --------------------------------------------------------

    @SuppressWarnings("unchecked")
    private static Map<String, Object> map(Object value) {
        return (Map<String, Object>) value;
    }

    private static List<String> strings(Object value) {
        List<String> out = new ArrayList<>();
        for (Object item : (Collection<?>) value) out.add((String) item);
        return out;
    }

    private static int integer(Object value) {
        return ((Number) value).intValue();
    }

    private static byte[] bytes(Object base64) {
        return base64 == null ? null : Base64.getDecoder().decode((String) base64);
    }

    private static String base64(byte[] bytes) {
        return bytes == null ? null : Base64.getEncoder().encodeToString(bytes);
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toByteArray();
    }

    /** Just enough JSON: objects, arrays, strings, numbers (long or double), true, false, null. */
    static final class Json {
        private final String text;
        private int pos;

        private Json(String text) {
            this.text = text;
        }

        static List<Object> parseList(String text) {
            Json json = new Json(text);
            Object value = json.value();
            json.skipSpace();
            if (json.pos != text.length() || !(value instanceof List)) throw new IllegalArgumentException("expected one JSON list");
            @SuppressWarnings("unchecked") List<Object> list = (List<Object>) value;
            return list;
        }

        private void skipSpace() {
            while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) pos++;
        }

        private Object value() {
            skipSpace();
            char c = text.charAt(pos);
            if (c == '{') {
                Map<String, Object> map = new LinkedHashMap<>();
                pos++;
                skipSpace();
                if (text.charAt(pos) == '}') { pos++; return map; }
                while (true) {
                    skipSpace();
                    String key = string();
                    skipSpace();
                    expect(':');
                    map.put(key, value());
                    skipSpace();
                    if (text.charAt(pos++) == '}') return map;
                }
            }
            if (c == '[') {
                List<Object> list = new ArrayList<>();
                pos++;
                skipSpace();
                if (text.charAt(pos) == ']') { pos++; return list; }
                while (true) {
                    list.add(value());
                    skipSpace();
                    if (text.charAt(pos++) == ']') return list;
                }
            }
            if (c == '"') return string();
            if (text.startsWith("true", pos)) { pos += 4; return Boolean.TRUE; }
            if (text.startsWith("false", pos)) { pos += 5; return Boolean.FALSE; }
            if (text.startsWith("null", pos)) { pos += 4; return null; }
            int start = pos;
            while (pos < text.length() && "+-0123456789.eE".indexOf(text.charAt(pos)) >= 0) pos++;
            String number = text.substring(start, pos);
            if (number.isEmpty()) throw new IllegalArgumentException("bad JSON at " + start);
            return number.matches("-?\\d+") ? (Object) Long.parseLong(number) : (Object) Double.parseDouble(number);
        }

        private void expect(char c) {
            if (text.charAt(pos++) != c) throw new IllegalArgumentException("expected " + c + " at " + (pos - 1));
        }

        private String string() {
            expect('"');
            StringBuilder out = new StringBuilder();
            while (true) {
                char c = text.charAt(pos++);
                if (c == '"') return out.toString();
                if (c != '\\') { out.append(c); continue; }
                char e = text.charAt(pos++);
                switch (e) {
                    case 'n': out.append('\n'); break;
                    case 't': out.append('\t'); break;
                    case 'r': out.append('\r'); break;
                    case 'b': out.append('\b'); break;
                    case 'f': out.append('\f'); break;
                    case 'u': out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16)); pos += 4; break;
                    default: out.append(e);
                }
            }
        }

        static String write(Object value) {
            StringBuilder out = new StringBuilder();
            write(value, out);
            return out.toString();
        }

        private static void write(Object value, StringBuilder out) {
            if (value == null) {
                out.append("null");
            } else if (value instanceof String) {
                out.append('"');
                for (char c : ((String) value).toCharArray()) {
                    if (c == '"' || c == '\\') out.append('\\').append(c);
                    else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
                    else out.append(c);
                }
                out.append('"');
            } else if (value instanceof Number || value instanceof Boolean) {
                out.append(value);
            } else if (value instanceof Map) {
                out.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                    if (!first) out.append(',');
                    first = false;
                    write(String.valueOf(e.getKey()), out);
                    out.append(':');
                    write(e.getValue(), out);
                }
                out.append('}');
            } else if (value instanceof Collection) {
                out.append('[');
                boolean first = true;
                for (Object item : (Collection<?>) value) {
                    if (!first) out.append(',');
                    first = false;
                    write(item, out);
                }
                out.append(']');
            } else {
                write(value.toString(), out);
            }
        }
    }
}
