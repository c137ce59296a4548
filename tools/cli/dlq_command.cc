// `optimus dlq list TOPIC`: what a dead-letter topic holds and why each record is there, read
// straight from the bus (Kafka or the embedded log) without moving any consumer group.
#include "dlq_command.h"

#include <chrono>
#include <random>

#include "flags.h"
#include "nlohmann/json.hpp"
#include "optimus/bus/message.h"
#include "optimus/bus/open_bus.h"

namespace optimus::cli {
namespace {

constexpr char kHelp[] =
    "Usage: optimus dlq list TOPIC --bus URI [flags]\n\n"
    "Lists the records of a dead-letter topic (e.g. optimus.spec.submissions.dlq): where each\n"
    "came from, which consumer group gave up on it, after how many attempts, and the error.\n"
    "Reads from the start with a throwaway consumer group; nothing is committed or changed.\n\n"
    "Flags:\n"
    "      --bus URI          the bus, as the services' bus.uri: kafka://host:9092[?...] or\n"
    "                         embedded:/path/bus.db\n"
    "      --max N            stop after N records (default 100)\n"
    "      --wait SECONDS     stop when nothing new arrives for this long (default 3)\n"
    "  -o, --output FORMAT    table (default) or json\n\n"
    "Exit status: 0 listed (also when empty), 2 bad flags or an unreachable bus.\n";

std::string Header(const bus::Message& m, const char* name) {
  return m.HeaderValue(name).value_or("");
}

}  // namespace

int RunDlqCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  const std::string command = "optimus dlq list";
  if (argc < 2 || std::string(argv[1]) != "list") {
    err << "optimus dlq: the verb is list (optimus dlq list --help)\n";
    return 2;
  }
  --argc;
  ++argv;
  std::string uri, max_text = "100", wait_text = "3", output = "table";
  Flags flags(command);
  flags.String("bus", 0, &uri);
  flags.String("max", 0, &max_text);
  flags.String("wait", 0, &wait_text);
  flags.String("output", 'o', &output);
  if (auto code = flags.ParseCommand(argc, argv, kHelp, out, err, 1)) return *code;
  if (flags.positional().size() != 1 || uri.empty()) {
    err << command << ": give the topic and the bus: optimus dlq list TOPIC --bus URI\n";
    return 2;
  }
  int max = 0, wait = 0;
  try {
    max = std::stoi(max_text);
    wait = std::stoi(wait_text);
  } catch (const std::exception&) {
    err << command << ": --max and --wait take whole numbers\n";
    return 2;
  }
  if (output != "table" && output != "json") {
    err << command << ": --output is table or json, not \"" << output << "\"\n";
    return 2;
  }
  auto bus = bus::OpenBus(uri, "optimus-dlq-list");
  if (!bus.ok()) {
    err << command << ": " << bus.status().message() << "\n";
    return 2;
  }
  std::random_device random;
  auto consumer = (*bus)->NewConsumer("optimus-dlq-list-" + std::to_string(random()));
  if (!consumer.ok()) {
    err << command << ": " << consumer.status().message() << "\n";
    return 2;
  }
  if (absl::Status s = (*consumer)->Subscribe({flags.positional()[0]}); !s.ok()) {
    err << command << ": " << s.message() << "\n";
    return 2;
  }
  std::vector<bus::Message> records;
  auto quiet_since = std::chrono::steady_clock::now();
  while (static_cast<int>(records.size()) < max &&
         std::chrono::steady_clock::now() - quiet_since < std::chrono::seconds(wait)) {
    auto polled = (*consumer)->Poll(std::chrono::milliseconds(200), max - records.size());
    if (!polled.ok()) {
      err << command << ": " << polled.status().message() << "\n";
      return 2;
    }
    if (polled->empty()) continue;
    quiet_since = std::chrono::steady_clock::now();
    for (auto& m : *polled) records.push_back(std::move(m));
  }
  (*consumer)->Close();
  if (output == "json") {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : records) {
      list.push_back(
          {{"partition", m.partition},
           {"offset", m.offset},
           {"key", m.key},
           {"origin", Header(m, bus::kDlqOriginTopic) + "/" + Header(m, bus::kDlqOriginPartition) +
                          "@" + Header(m, bus::kDlqOriginOffset)},
           {"group", Header(m, bus::kDlqConsumerGroup)},
           {"attempts", Header(m, bus::kDlqAttempts)},
           {"error", Header(m, bus::kDlqError)},
           {"bytes", m.payload.size()}});
    }
    out << nlohmann::json{{"topic", flags.positional()[0]}, {"records", list}}.dump(2) << "\n";
    return 0;
  }
  for (const auto& m : records) {
    out << m.partition << "@" << m.offset << "  key " << m.key << "  from "
        << Header(m, bus::kDlqOriginTopic) << "/" << Header(m, bus::kDlqOriginPartition) << "@"
        << Header(m, bus::kDlqOriginOffset) << "  group " << Header(m, bus::kDlqConsumerGroup)
        << "  attempts " << Header(m, bus::kDlqAttempts) << "\n    " << Header(m, bus::kDlqError)
        << "\n";
  }
  out << records.size() << " records in " << flags.positional()[0] << "\n";
  return 0;
}

}  // namespace optimus::cli
