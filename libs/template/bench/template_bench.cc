// bench-template: parse and render throughput of a typical 30-line SQL asset with 10 actions.
//
//   bench-template [--seconds 2]
// Prints parses/s, renders/s (one parsed set, executed repeatedly) and compiles/s
// (CompileString: parse + render + trim, as a run-input request does per asset).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "optimus/template/optimus_funcs.h"
#include "optimus/template/template.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace tmpl = optimus::tmpl;

constexpr const char* kQuery = R"SQL(-- daily aggregate for {{ .JOB_DESTINATION }}
{{- /* 30 lines, 10 actions: the shape of a bq2bq query.sql */ -}}
WITH source AS (
  SELECT
    event_id,
    user_id,
    event_name,
    event_timestamp,
    country
  FROM `{{ .proj.SOURCE_PROJECT }}.{{ .proj.SOURCE_DATASET }}.events`
  WHERE event_timestamp >= '{{ .DSTART }}'
    AND event_timestamp < '{{ .DEND }}'
),
filtered AS (
  SELECT *
  FROM source
  WHERE country IN ({{ range $i, $c := .countries }}{{ if $i }}, {{ end }}'{{ $c }}'{{ end }})
)
SELECT
  DATE(event_timestamp) AS event_date,
  event_name,
  COUNT(DISTINCT user_id) AS users,
  COUNT(*) AS events,
  '{{ .DSTART | Date }}' AS partition_date,
  '{{ .EXECUTION_TIME }}' AS loaded_at
FROM filtered
GROUP BY 1, 2
{{ if .task.LIMIT }}LIMIT {{ .task.LIMIT }}{{ end }}
-- window {{ .DSTART | Date | toDate "2006-01-02" | date_modify "-24h" | date "2006-01-02" }}
;
)SQL";

tmpl::Value Context() {
  using tmpl::Value;
  return Value::MakeMap({
      {"DSTART", "2023-03-07T00:00:00Z"},
      {"DEND", "2023-03-08T00:00:00Z"},
      {"EXECUTION_TIME", "2023-03-08 02:00:00"},
      {"JOB_DESTINATION", "bigquery://p:d.daily_events"},
      {"proj", Value::MakeMap({{"SOURCE_PROJECT", "p"}, {"SOURCE_DATASET", "raw"}})},
      {"task", Value::MakeMap({{"LIMIT", "1000"}})},
      {"countries", Value::MakeList({"ID", "SG", "MY"})},
  });
}

template <typename F>
double PerSecond(double seconds, F&& body) {
  int64_t n = 0;
  auto start = Clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    for (int i = 0; i < 100; ++i) body();
    n += 100;
  }
  return n / std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "bench-template: %s\n", what.c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      Die(std::string("unknown argument ") + argv[i] + " (usage: bench-template [--seconds N])");
    }
  }
  tmpl::FuncContext ctx;
  const tmpl::Value data = Context();
  tmpl::TemplateSet set(tmpl::OptimusFuncMap(ctx));
  if (auto s = set.Parse("query.sql", kQuery); !s.ok()) Die(std::string(s.message()));
  auto first = set.Execute("query.sql", data);
  if (!first.ok()) Die(std::string(first.status().message()));

  size_t sink = 0;
  double parses = PerSecond(seconds, [&] {
    tmpl::TemplateSet s(tmpl::OptimusFuncMap(ctx));
    sink += s.Parse("query.sql", kQuery).ok();
  });
  double renders = PerSecond(seconds, [&] { sink += set.Execute("query.sql", data)->size(); });
  double compiles = PerSecond(
      seconds, [&] { sink += tmpl::CompileString("query.sql", kQuery, data, ctx)->size(); });
  std::printf("template: %zu bytes in, %zu bytes out\n", std::strlen(kQuery), first->size());
  std::printf("parses/s   %12.0f\n", parses);
  std::printf("renders/s  %12.0f\n", renders);
  std::printf("compiles/s %12.0f  (parse + render + trim)\n", compiles);
  return sink == 0 ? 1 : 0;
}
