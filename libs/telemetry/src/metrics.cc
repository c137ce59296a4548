// Process-wide registry, exposition, and the /proc/self process collector.
#include "optimus/telemetry/metrics.h"

#include <dirent.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <sstream>
#include <string_view>

namespace optimus::telemetry {
namespace {

#ifndef OPTIMUS_VERSION
#define OPTIMUS_VERSION "unknown"
#endif

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}

std::shared_ptr<prometheus::Registry>& CurrentRegistry() {
  static std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  return registry;
}

// The fields of /proc/self/stat we report, already in base units.
struct ProcStat {
  double cpu_seconds = 0;
  double start_time_seconds = 0;
  double virtual_bytes = 0;
  double resident_bytes = 0;
  double threads = 0;
};

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return {};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Boot time in seconds since the epoch ("btime" of /proc/stat), or 0 when unavailable.
double BootTimeSeconds() {
  static const double boot_time = [] {
    std::string stat = ReadFile("/proc/stat");
    size_t at = stat.find("\nbtime ");
    if (at == std::string::npos) return 0.0;
    return std::strtod(stat.c_str() + at + 7, nullptr);
  }();
  return boot_time;
}

bool ReadProcStat(ProcStat& out) {
  std::string stat = ReadFile("/proc/self/stat");
  // The command name (field 2) is in parentheses and may hold spaces; count fields after it.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(stat.substr(close + 2));
  // Field 3 is the first after ")"; we need 14 utime, 15 stime, 20 num_threads, 22 starttime,
  // 23 vsize, 24 rss.
  std::vector<std::string> values;
  std::string value;
  while (values.size() < 22 && fields >> value) values.push_back(value);
  if (values.size() < 22) return false;
  auto field = [&](int number) { return std::strtod(values[number - 3].c_str(), nullptr); };
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page_size = static_cast<double>(sysconf(_SC_PAGESIZE));
  out.cpu_seconds = (field(14) + field(15)) / ticks;
  out.threads = field(20);
  out.start_time_seconds = BootTimeSeconds() + field(22) / ticks;
  out.virtual_bytes = field(23);
  out.resident_bytes = field(24) * page_size;
  return true;
}

// Open descriptors, not counting the one the directory listing itself holds.
int OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;
}

prometheus::MetricFamily Gauge(std::string name, std::string help, double value) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  prometheus::ClientMetric metric;
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
  return family;
}

}  // namespace

prometheus::Registry& Metrics() {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  return *CurrentRegistry();
}

ScopedMetricsRegistry::ScopedMetricsRegistry(std::shared_ptr<prometheus::Registry> registry)
    : registry_(std::move(registry)) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  previous_ = CurrentRegistry();
  CurrentRegistry() = registry_;
}

ScopedMetricsRegistry::~ScopedMetricsRegistry() {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  CurrentRegistry() = previous_;
}

const std::string& BuildVersion() {
  static const std::string version = OPTIMUS_VERSION;
  return version;
}

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  std::vector<prometheus::MetricFamily> families;
  ProcStat stat;
  if (ReadProcStat(stat)) {
    prometheus::MetricFamily cpu;
    cpu.name = "optimus_process_cpu_seconds_total";
    cpu.help = "User and system CPU time spent by the process, in seconds.";
    cpu.type = prometheus::MetricType::Counter;
    prometheus::ClientMetric cpu_metric;
    cpu_metric.counter.value = stat.cpu_seconds;
    cpu.metric.push_back(std::move(cpu_metric));
    families.push_back(std::move(cpu));
    families.push_back(Gauge("optimus_process_start_time_seconds",
                             "Start time of the process since the Unix epoch, in seconds.",
                             stat.start_time_seconds));
    families.push_back(Gauge("optimus_process_resident_memory_bytes",
                             "Resident memory of the process, in bytes.", stat.resident_bytes));
    families.push_back(Gauge("optimus_process_virtual_memory_bytes",
                             "Virtual memory of the process, in bytes.", stat.virtual_bytes));
    families.push_back(Gauge("optimus_process_threads", "Threads of the process.", stat.threads));
  }
  if (int fds = OpenFds(); fds >= 0) {
    families.push_back(Gauge("optimus_process_open_fds", "Open file descriptors of the process.",
                             static_cast<double>(fds)));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    families.push_back(Gauge("optimus_process_max_fds",
                             "Limit on open file descriptors of the process.",
                             static_cast<double>(limit.rlim_cur)));
  }
  prometheus::MetricFamily build =
      Gauge("optimus_build_info", "Always 1; the labels describe the running build.", 1);
  build.metric[0].label.push_back({"version", BuildVersion()});
  families.push_back(std::move(build));
  return families;
}

std::string RenderMetricFamilies(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

std::string RenderMetrics(const prometheus::Registry& registry) {
  std::vector<prometheus::MetricFamily> families = registry.Collect();
  std::vector<prometheus::MetricFamily> process = ProcessCollector().Collect();
  families.insert(families.end(), std::make_move_iterator(process.begin()),
                  std::make_move_iterator(process.end()));
  return RenderMetricFamilies(families);
}

const std::vector<double>& LatencyBucketsSeconds() {
  static const std::vector<double> buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                              0.1,    0.25,  0.5,    1,     2.5,  5,     10};
  return buckets;
}

}  // namespace optimus::telemetry
