// Deletes the topics whose names start with a prefix: what a benchmark or test run leaves on
// the dev broker. Run by `tools/dev/kafka delete-topics PREFIX` with the broker's jars on the
// class path (Java 11+ runs a single source file directly).
import java.util.List;
import java.util.Properties;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

public class DeleteTopicsWithPrefix {
  public static void main(String[] args) throws Exception {
    if (args.length != 2 || args[1].isEmpty()) {
      System.err.println("usage: kafka-delete-topics.java BOOTSTRAP PREFIX (a non-empty prefix)");
      System.exit(2);
    }
    Properties config = new Properties();
    config.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    config.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
    config.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    try (Admin admin = Admin.create(config)) {
      List<String> doomed = admin.listTopics().names().get().stream()
          .filter(name -> name.startsWith(args[1]))
          .sorted()
          .collect(Collectors.toList());
      if (!doomed.isEmpty()) admin.deleteTopics(doomed).all().get();
      System.out.println("kafka: deleted " + doomed.size() + " topics starting with " + args[1]);
    }
  }
}
