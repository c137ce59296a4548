// Tests of the registry accessor, the process collector and text exposition.
#include "optimus/telemetry/metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <unistd.h>

#include <chrono>
#include <regex>

namespace optimus::telemetry {
namespace {

// The value of the first sample line starting with `prefix` (name plus labels), or -1.
double SampleValue(const std::string& text, const std::string& prefix) {
  size_t at = 0;
  while ((at = text.find(prefix, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      size_t space = text.find(' ', at + prefix.size());
      return std::stod(text.substr(space + 1));
    }
    at += prefix.size();
  }
  return -1;
}

TEST(MetricsTest, RenderContainsRegisteredCountersAndHistograms) {
  prometheus::Registry registry;
  auto& counter = prometheus::BuildCounter()
                      .Name("optimus_test_events_total")
                      .Help("Events seen by the test.")
                      .Register(registry);
  counter.Add({{"kind", "created"}}).Increment(3);
  auto& histogram = prometheus::BuildHistogram()
                        .Name("optimus_test_latency_seconds")
                        .Help("Latency seen by the test.")
                        .Register(registry);
  histogram.Add({}, LatencyBucketsSeconds()).Observe(0.003);

  std::string text = RenderMetrics(registry);
  EXPECT_NE(text.find("# TYPE optimus_test_events_total counter"), std::string::npos) << text;
  EXPECT_EQ(SampleValue(text, "optimus_test_events_total{kind=\"created\"}"), 3);
  EXPECT_EQ(SampleValue(text, "optimus_test_latency_seconds_bucket{le=\"0.0025\"}"), 0);
  EXPECT_EQ(SampleValue(text, "optimus_test_latency_seconds_bucket{le=\"0.005\"}"), 1);
  EXPECT_EQ(SampleValue(text, "optimus_test_latency_seconds_count"), 1);
}

TEST(MetricsTest, RenderIncludesProcessMetrics) {
  prometheus::Registry registry;
  std::string text = RenderMetrics(registry);
  for (const char* type_line : {
           "# TYPE optimus_process_start_time_seconds gauge",
           "# TYPE optimus_process_cpu_seconds_total counter",
           "# TYPE optimus_process_resident_memory_bytes gauge",
           "# TYPE optimus_process_open_fds gauge",
           "# TYPE optimus_process_max_fds gauge",
           "# TYPE optimus_build_info gauge",
       }) {
    EXPECT_NE(text.find(type_line), std::string::npos) << type_line << "\n" << text;
  }
  double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  double start = SampleValue(text, "optimus_process_start_time_seconds");
  EXPECT_GT(start, now - 3600) << "the test process started within the last hour";
  EXPECT_LE(start, now + 1);
  EXPECT_GT(SampleValue(text, "optimus_process_resident_memory_bytes"), 1 << 20);
  EXPECT_EQ(SampleValue(text, "optimus_build_info{version=\"" + BuildVersion() + "\"}"), 1);
  EXPECT_NE(BuildVersion(), "unknown");
}

TEST(MetricsTest, OpenFdsFollowsTheProcess) {
  auto open_fds = [] {
    return SampleValue(RenderMetrics(prometheus::Registry()), "optimus_process_open_fds");
  };
  double before = open_fds();
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) fds.push_back(open("/dev/null", O_RDONLY));
  double during = open_fds();
  for (int fd : fds) close(fd);
  EXPECT_EQ(during - before, 5);
  EXPECT_EQ(open_fds(), before);
}

TEST(MetricsTest, ScopedRegistryReplacesAndRestoresTheProcessRegistry) {
  prometheus::Registry* process = &Metrics();
  {
    ScopedMetricsRegistry scoped;
    EXPECT_EQ(&Metrics(), &scoped.registry());
    EXPECT_NE(&Metrics(), process);
  }
  EXPECT_EQ(&Metrics(), process);
}

TEST(MetricsTest, MetricNamesFollowTheConvention) {
  std::regex name_rule("optimus_[a-z0-9]+(_[a-z0-9]+)+");
  std::string text = RenderMetrics(prometheus::Registry());
  std::regex type_line("# TYPE (\\S+) ");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), type_line);
       it != std::sregex_iterator(); ++it) {
    EXPECT_TRUE(std::regex_match((*it)[1].str(), name_rule)) << (*it)[1];
  }
}

}  // namespace
}  // namespace optimus::telemetry
