// Sends a fixed list of records with the Java kafka-clients producer, for
// compat_tests/capture_batches.py (which records the Produce requests).
//
//   java -cp <kafka-clients classpath> CaptureProducer.java BOOTSTRAP TOPIC CODEC RECORDS_FILE
//
// RECORDS_FILE has one record per line, tab-separated fields, each byte
// string in base64 and "-" for null:
//   timestamp  key  value  header_count  (header_name  header_value)*
// Header names are base64 of their UTF-8 bytes. Every record goes to
// partition 0. Producer settings other than the ones below are the defaults.

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class CaptureProducer {
    private static byte[] bytes(String field) {
        return field.equals("-") ? null : Base64.getDecoder().decode(field);
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], codec = args[2];
        List<String> lines = Files.readAllLines(Path.of(args[3]), StandardCharsets.UTF_8);

        Properties config = new Properties();
        config.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        config.put(ProducerConfig.CLIENT_ID_CONFIG, "capture-java");
        config.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        // One batch for everything: a batch size above the total, a long linger, then flush().
        config.put(ProducerConfig.BATCH_SIZE_CONFIG, 1048576);
        config.put(ProducerConfig.LINGER_MS_CONFIG, 10000);
        config.put(ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 4194304);

        List<Future<RecordMetadata>> sent = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer =
                 new KafkaProducer<>(config, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (String line : lines) {
                if (line.isEmpty()) continue;
                String[] f = line.split("\t", -1);
                RecordHeaders headers = new RecordHeaders();
                int count = Integer.parseInt(f[3]);
                for (int i = 0; i < count; i++) {
                    String name = new String(bytes(f[4 + 2 * i]), StandardCharsets.UTF_8);
                    headers.add(name, bytes(f[5 + 2 * i]));
                }
                sent.add(producer.send(new ProducerRecord<>(topic, 0, Long.parseLong(f[0]), bytes(f[1]), bytes(f[2]), headers)));
            }
            producer.flush();
            for (Future<RecordMetadata> future : sent) {
                future.get(60, TimeUnit.SECONDS);
            }
        }
        System.out.println("sent " + sent.size() + " records");
    }
}
