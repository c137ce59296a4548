// Cached request metrics series for the HTTP and gRPC servers.
#include "request_metrics.h"

#include "optimus/telemetry/metrics.h"

namespace optimus::rpc::internal {

RequestMetrics::RequestMetrics(prometheus::Registry& registry, const std::string& prefix,
                               const std::string& what, std::vector<std::string> label_names)
    : label_names_(std::move(label_names)) {
  std::string by;
  for (const std::string& name : label_names_) by.append(by.empty() ? "" : ", ").append(name);
  requests_ = &prometheus::BuildCounter()
                   .Name(prefix + "_requests_total")
                   .Help(what + " handled, by " + by + " and status code.")
                   .Register(registry);
  durations_ = &prometheus::BuildHistogram()
                    .Name(prefix + "_request_duration_seconds")
                    .Help("Time to handle " + what + ", in seconds, by " + by + ".")
                    .Register(registry);
}

void RequestMetrics::Record(std::initializer_list<std::string_view> values, std::string_view code,
                            double seconds) {
  thread_local std::string key;
  key.clear();
  for (std::string_view value : values) key.append(value).push_back('\x1f');
  auto labels = [&] {
    prometheus::Labels out;
    size_t i = 0;
    for (std::string_view value : values) out.emplace(label_names_.at(i++), std::string(value));
    return out;
  };
  std::lock_guard<std::mutex> lock(mu_);
  auto histogram = histograms_.find(key);
  if (histogram == histograms_.end()) {
    auto& created = durations_->Add(labels(), telemetry::LatencyBucketsSeconds());
    histogram = histograms_.emplace(key, &created).first;
  }
  histogram->second->Observe(seconds);
  key.append(code);
  auto counter = counters_.find(key);
  if (counter == counters_.end()) {
    prometheus::Labels with_code = labels();
    with_code.emplace("code", std::string(code));
    auto& created = requests_->Add(with_code);
    counter = counters_.emplace(key, &created).first;
  }
  counter->second->Increment();
}

}  // namespace optimus::rpc::internal
