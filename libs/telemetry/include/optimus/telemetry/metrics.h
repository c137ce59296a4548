// The process-wide Prometheus registry, the process collector, and text exposition.
//
// Metric names follow optimus_<service>_<what>_<unit> (docs/observability.md), e.g.
// optimus_ingest_deployments_total or optimus_http_request_duration_seconds.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

namespace optimus::telemetry {

// The Content-Type of RenderMetrics output (Prometheus text format 0.0.4).
inline constexpr char kMetricsContentType[] = "text/plain; version=0.0.4; charset=utf-8";

// The registry every component of the process registers its metrics in.
prometheus::Registry& Metrics();

// Replaces the registry Metrics() returns while alive (tests), then restores the previous one.
// Components capture the registry when they are built, so build them inside the scope.
class ScopedMetricsRegistry {
 public:
  explicit ScopedMetricsRegistry(
      std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>());
  ~ScopedMetricsRegistry();
  ScopedMetricsRegistry(const ScopedMetricsRegistry&) = delete;
  ScopedMetricsRegistry& operator=(const ScopedMetricsRegistry&) = delete;

  prometheus::Registry& registry() { return *registry_; }

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<prometheus::Registry> previous_;
};

// The version of this build (the CMake project version), as optimus_build_info reports it.
const std::string& BuildVersion();

// Process metrics read from /proc/self at each scrape, so they cost nothing between scrapes:
// optimus_process_{start_time_seconds, cpu_seconds_total, resident_memory_bytes,
// virtual_memory_bytes, open_fds, max_fds, threads} and optimus_build_info{version} 1.
class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

// Prometheus text exposition of `registry` followed by the process collector.
std::string RenderMetrics(const prometheus::Registry& registry);

// Text exposition of any families (for callers with their own collectables).
std::string RenderMetricFamilies(const std::vector<prometheus::MetricFamily>& families);

// Histogram bucket bounds in seconds for request latencies: 0.5 ms .. 10 s, dense below 100 ms
// where the services' budgets are.
const std::vector<double>& LatencyBucketsSeconds();

}  // namespace optimus::telemetry
