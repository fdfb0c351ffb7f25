// Prints Kafka's protocol error table from org.apache.kafka.common.protocol.Errors,
// one tab-separated line per code: code, name, retriable, exception class, message.
// The source of kwire_protocol/error_codes.py, and what tests/protocol/test_error_codes.py
// compares it with. Run as a single-file program with kafka-clients on the classpath:
//   java -cp "$(python -m compat_tests.reference_kafka classpath)" scripts/KafkaErrorCodes.java

import java.util.Arrays;
import java.util.Comparator;
import org.apache.kafka.common.errors.ApiException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.protocol.Errors;

public class KafkaErrorCodes {
    public static void main(String[] args) {
        System.out.println("# from " + Errors.class.getProtectionDomain().getCodeSource().getLocation().getPath()
            .replaceAll(".*/", ""));
        Errors[] all = Errors.values();
        Arrays.sort(all, Comparator.comparingInt(Errors::code));
        for (Errors error : all) {
            ApiException exception = error.exception();
            boolean retriable = exception instanceof RetriableException;
            String exceptionClass = exception == null ? "-" : exception.getClass().getSimpleName();
            String message = error.message() == null ? "" : error.message().replace('\t', ' ').replace('\n', ' ');
            System.out.println(error.code() + "\t" + error.name() + "\t" + retriable + "\t" + exceptionClass + "\t" + message);
        }
    }
}
