// bench-specs: reads (with this.yaml merging) and validates every job of a project, as
// `optimus job validate` and `optimus deploy` do, and prints how long each part takes; then
// parses each job's spec as the CLI sends it (spec::WriteJobSpec), on one core, as ingest,
// dependency-resolver, compiler and runtime-context each do for every job a deploy carries.
//
//   bench-specs --dir PROJECT [--repeat 3]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/project_reader.h"
#include "optimus/spec/schedule_hooks.h"
#include "optimus/spec/writer.h"

int main(int argc, char** argv) {
  std::string dir;
  int repeat = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir")
      dir = argv[i + 1];
    else if (flag == "--repeat" && absl::SimpleAtoi(argv[i + 1], &repeat) && repeat > 0)
      continue;
    else {
      std::fprintf(stderr, "usage: bench-specs --dir PROJECT [--repeat N]\n");
      return 2;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "usage: bench-specs --dir PROJECT [--repeat N]\n");
    return 2;
  }
  using Clock = std::chrono::steady_clock;
  double best_read = 1e9, best_validate = 1e9;
  size_t jobs = 0;
  int errors = 0;
  const auto hooks = optimus::spec::ScheduleValidationHooks();
  for (int r = 0; r < repeat; ++r) {
    optimus::spec::Diagnostics diagnostics;
    const auto t0 = Clock::now();
    auto project = optimus::spec::ReadProject(dir, "optimus.yaml", diagnostics);
    const auto t1 = Clock::now();
    if (!project) {
      std::fprintf(stderr, "bench-specs: cannot read %s\n%s", dir.c_str(),
                   diagnostics.ToString().c_str());
      return 1;
    }
    optimus::spec::ValidateProject(*project, nullptr, hooks, diagnostics);
    const auto t2 = Clock::now();
    best_read = std::min(best_read, std::chrono::duration<double>(t1 - t0).count());
    best_validate = std::min(best_validate, std::chrono::duration<double>(t2 - t1).count());
    jobs = project->jobs.size();
    errors = diagnostics.ErrorCount();
  }
  optimus::spec::Diagnostics diagnostics;
  auto project = optimus::spec::ReadProject(dir, "optimus.yaml", diagnostics);
  std::vector<std::string> texts;
  size_t bytes = 0;
  for (const auto& job : project->jobs) {
    texts.push_back(optimus::spec::WriteJobSpec(job));
    bytes += texts.back().size();
  }
  double best_parse = 1e9;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = Clock::now();
    for (const std::string& text : texts) {
      optimus::spec::Diagnostics d;
      if (!optimus::spec::LoadJobSpec("job.yaml", text, d) || d.HasErrors()) ++errors;
    }
    best_parse = std::min(best_parse, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::printf(
      "stored specs parsed on one core: %.0f/s (%.1f us each, average %zu bytes, best of %d)\n",
      texts.size() / best_parse, best_parse * 1e6 / texts.size(), bytes / texts.size(), repeat);
  std::printf(
      "specs: %zu jobs  read+merge %.3f s  validate %.3f s  total %.3f s  (%.0f jobs/s, "
      "best of %d, %d errors)\n",
      jobs, best_read, best_validate, best_read + best_validate, jobs / (best_read + best_validate),
      repeat, errors);
  return errors == 0 ? 0 : 1;
}
