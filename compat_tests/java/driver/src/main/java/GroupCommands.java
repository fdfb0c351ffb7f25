// KafkaClientDriver's consumer-group commands besides group_consume:
//
//   group_rebalance  topic, group, protocol ("classic" | "consumer"), partitions, timeout_ms, config: {}
//                    (member a subscribes and polls until it owns every partition; member b subscribes;
//                    both poll, in turn from this one thread, until they split them)
//                    -> {first: [p], a: [p], b: [p], a_revoked: [p], a_lost: [p]}
//   describe_groups  groups: [name] (Admin.describeConsumerGroups: DescribeGroups for classic groups,
//                    ConsumerGroupDescribe for consumer groups)
//                    -> {name: {state, members: [{client_id, assigned: [[topic, p]]}]} | {error, message}}
//   list_groups      -> {name: {state, group_type, protocol_type}} (Admin.listGroups)
//   delete_groups    groups: [name] -> {name: null | {error, message}}
//   group_offsets    group, topic -> {committed: {p: offset}, lag: {p: end offset - committed}}

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

final class GroupCommands {
    private static final long TIMEOUT_MS = 30_000;

    private GroupCommands() {
    }

    /** A member and what its rebalance listener heard. */
    private static final class Member implements ConsumerRebalanceListener {
        final KafkaConsumer<byte[], byte[]> consumer;
        final TreeSet<Integer> revoked = new TreeSet<>();
        final TreeSet<Integer> lost = new TreeSet<>();

        Member(String bootstrap, Map<String, Object> command) {
            Properties config = new Properties();
            config.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            config.put(ConsumerConfig.GROUP_ID_CONFIG, command.get("group"));
            config.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, command.getOrDefault("protocol", "classic"));
            config.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
            config.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            config.put(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG, 100);
            config.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) TIMEOUT_MS);
            @SuppressWarnings("unchecked")
            Map<String, Object> extra = (Map<String, Object>) command.getOrDefault("config", Map.of());
            extra.forEach((k, v) -> config.put(k, String.valueOf(v)));
            consumer = new KafkaConsumer<>(config, new ByteArrayDeserializer(), new ByteArrayDeserializer());
            consumer.subscribe(List.of((String) command.get("topic")), this);
        }

        List<Integer> assignment() {
            TreeSet<Integer> out = new TreeSet<>();
            for (TopicPartition tp : consumer.assignment()) out.add(tp.partition());
            return new ArrayList<>(out);
        }

        void poll() {
            consumer.poll(Duration.ofMillis(100));
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
        }

        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            for (TopicPartition tp : partitions) revoked.add(tp.partition());
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            for (TopicPartition tp : partitions) lost.add(tp.partition());
        }
    }

    static Object rebalance(String bootstrap, Map<String, Object> command) {
        int partitions = ((Number) command.get("partitions")).intValue();
        long deadline = System.currentTimeMillis() + ((Number) command.getOrDefault("timeout_ms", 60_000)).longValue();
        Member a = new Member(bootstrap, command);
        Member b = null;
        try {
            while (a.assignment().size() < partitions) {
                if (System.currentTimeMillis() > deadline) throw new TimeoutException("the first member has " + a.assignment());
                a.poll();
            }
            List<Integer> first = a.assignment();
            a.revoked.clear();
            a.lost.clear();
            b = new Member(bootstrap, command);
            while (!split(a.assignment(), b.assignment(), partitions)) {
                if (System.currentTimeMillis() > deadline) {
                    throw new TimeoutException("the members have " + a.assignment() + " and " + b.assignment());
                }
                a.poll();
                b.poll();
            }
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("first", first);
            out.put("a", a.assignment());
            out.put("b", b.assignment());
            out.put("a_revoked", new ArrayList<>(a.revoked));
            out.put("a_lost", new ArrayList<>(a.lost));
            return out;
        } finally {
            if (b != null) b.consumer.close();
            a.consumer.close();
        }
    }

    private static boolean split(List<Integer> a, List<Integer> b, int partitions) {
        TreeSet<Integer> both = new TreeSet<>(a);
        both.addAll(b);
        return !a.isEmpty() && !b.isEmpty() && both.size() == a.size() + b.size() && both.size() == partitions;
    }

    static Object describeGroups(Admin admin, Map<String, Object> command) throws InterruptedException {
        @SuppressWarnings("unchecked")
        List<String> groups = (List<String>) command.get("groups");
        Map<String, Object> out = new TreeMap<>();
        for (Map.Entry<String, KafkaFuture<ConsumerGroupDescription>> entry : admin.describeConsumerGroups(groups).describedGroups().entrySet()) {
            ConsumerGroupDescription g;
            try {
                g = entry.getValue().get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
            } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
                out.put(entry.getKey(), KafkaClientDriver.error(e));
                continue;
            }
            List<Object> members = new ArrayList<>();
            for (MemberDescription m : g.members()) {
                List<Object> assigned = new ArrayList<>();
                TreeMap<String, TreeSet<Integer>> sorted = new TreeMap<>();
                for (TopicPartition tp : m.assignment().topicPartitions()) sorted.computeIfAbsent(tp.topic(), t -> new TreeSet<>()).add(tp.partition());
                sorted.forEach((topic, ps) -> ps.forEach(p -> assigned.add(List.of(topic, p))));
                Map<String, Object> member = new LinkedHashMap<>();
                member.put("client_id", m.clientId());
                member.put("assigned", assigned);
                members.add(member);
            }
            Map<String, Object> group = new LinkedHashMap<>();
            group.put("state", g.groupState().toString());
            group.put("members", members);
            out.put(entry.getKey(), group);
        }
        return out;
    }

    static Object listGroups(Admin admin) throws Exception {
        Map<String, Object> out = new TreeMap<>();
        for (GroupListing g : admin.listGroups().all().get(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            Map<String, Object> group = new LinkedHashMap<>();
            group.put("state", g.groupState().map(Object::toString).orElse(null));
            group.put("group_type", g.type().map(t -> t.toString().toLowerCase(java.util.Locale.ROOT)).orElse(null));
            group.put("protocol_type", g.protocol());
            out.put(g.groupId(), group);
        }
        return out;
    }

    static Object deleteGroups(Admin admin, Map<String, Object> command) throws InterruptedException {
        @SuppressWarnings("unchecked")
        List<String> groups = (List<String>) command.get("groups");
        return KafkaClientDriver.perName(admin.deleteConsumerGroups(groups).deletedGroups());
    }

    static Object groupOffsets(Admin admin, Map<String, Object> command) throws Exception {
        String topic = (String) command.get("topic");
        Map<TopicPartition, OffsetAndMetadata> found = admin.listConsumerGroupOffsets((String) command.get("group"))
            .partitionsToOffsetAndMetadata().get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
        Map<TopicPartition, OffsetSpec> ends = new HashMap<>();
        for (TopicPartition tp : found.keySet()) if (tp.topic().equals(topic)) ends.put(tp, OffsetSpec.latest());
        Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> end = admin.listOffsets(ends).all().get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
        Map<String, Object> committed = new TreeMap<>();
        Map<String, Object> lag = new TreeMap<>();
        for (TopicPartition tp : ends.keySet()) {
            long offset = found.get(tp).offset();
            committed.put(String.valueOf(tp.partition()), offset);
            lag.put(String.valueOf(tp.partition()), end.get(tp).offset() - offset);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("committed", committed);
        out.put("lag", lag);
        return out;
    }
}
