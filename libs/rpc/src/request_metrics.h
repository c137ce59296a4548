// Request counter + latency histogram pairs shared by the HTTP and gRPC servers, with the
// per-label-set series cached so recording a request does not allocate.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <initializer_list>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace optimus::rpc::internal {

class RequestMetrics {
 public:
  // Registers <prefix>_requests_total{<labels>,code} and
  // <prefix>_request_duration_seconds{<labels>}.
  RequestMetrics(prometheus::Registry& registry, const std::string& prefix, const std::string& what,
                 std::vector<std::string> label_names);

  // `values` line up with the label names given to the constructor.
  void Record(std::initializer_list<std::string_view> values, std::string_view code,
              double seconds);

 private:
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* durations_;
  std::vector<std::string> label_names_;
  std::mutex mu_;
  std::map<std::string, prometheus::Counter*, std::less<>> counters_;
  std::map<std::string, prometheus::Histogram*, std::less<>> histograms_;
};

}  // namespace optimus::rpc::internal
