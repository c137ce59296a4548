// bench-lineage: SQL table extraction over the query.sql files of a generated project.
// Checks every job's extracted sources against the generator's manifest, then measures how
// many queries one core extracts per second.
//
//   bench-lineage --dir PROJECT [--seconds 1] [--check]   (budget: >= 20,000 queries/s)
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "nlohmann/json.hpp"
#include "optimus/lineage/sql_tables.h"
#include "optimus/spec/project_reader.h"

int main(int argc, char** argv) {
  std::string dir;
  double seconds = 1;
  bool check_only = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--dir" && i + 1 < argc) {
      dir = argv[++i];
    } else if (flag == "--seconds" && i + 1 < argc && absl::SimpleAtod(argv[i + 1], &seconds)) {
      ++i;
    } else if (flag == "--check") {
      check_only = true;
    } else {
      std::fprintf(stderr, "usage: bench-lineage --dir PROJECT [--seconds S] [--check]\n");
      return 2;
    }
  }
  if (dir.empty()) {
    std::fprintf(stderr, "usage: bench-lineage --dir PROJECT [--seconds S] [--check]\n");
    return 2;
  }
  optimus::spec::Diagnostics diagnostics;
  auto project = optimus::spec::ReadProject(dir, "optimus.yaml", diagnostics);
  if (!project) {
    std::fprintf(stderr, "bench-lineage: cannot read %s\n%s", dir.c_str(),
                 diagnostics.ToString().c_str());
    return 1;
  }
  std::ifstream manifest_file(dir + "/manifest.json");
  if (!manifest_file) {
    std::fprintf(stderr, "bench-lineage: %s/manifest.json is missing (made by gen-project)\n",
                 dir.c_str());
    return 1;
  }
  const auto manifest = nlohmann::json::parse(manifest_file, nullptr, false);
  std::map<std::string, std::set<std::string>> expected;
  for (const auto& job : manifest["jobs"]) {
    auto& sources = expected[job["name"].get<std::string>()];
    for (const auto& s : job["sources"]) sources.insert(s.get<std::string>());
  }

  std::vector<const std::string*> queries;
  size_t bytes = 0, mismatches = 0;
  for (const auto& job : project->jobs) {
    auto it = job.assets.find("query.sql");
    if (it == job.assets.end()) continue;
    queries.push_back(&it->second);
    bytes += it->second.size();
    std::set<std::string> got;
    for (const auto& ref : optimus::lineage::ExtractSqlTables(it->second).sources) {
      got.insert(ref.ToString());
    }
    if (got != expected[job.name]) {
      if (++mismatches <= 5) {
        std::string want, have;
        for (const auto& s : expected[job.name]) want += " " + s;
        for (const auto& s : got) have += " " + s;
        std::fprintf(stderr, "mismatch %s\n  want:%s\n  got: %s\n", job.name.c_str(), want.c_str(),
                     have.c_str());
      }
    }
  }
  std::printf("sql: %zu queries checked against the manifest: %zu mismatches\n", queries.size(),
              mismatches);
  if (check_only || queries.empty()) return mismatches == 0 && !queries.empty() ? 0 : 1;

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  size_t done = 0, found = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    for (const std::string* q : queries)
      found += optimus::lineage::ExtractSqlTables(*q).sources.size();
    done += queries.size();
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  }
  const double rate = done / elapsed;
  std::printf(
      "sql: %.0f queries/s on one core (%.1f MB/s, average query %zu bytes, %.1f tables each)\n",
      rate, rate * (static_cast<double>(bytes) / queries.size()) / 1e6, bytes / queries.size(),
      static_cast<double>(found) / done);
  return mismatches == 0 ? 0 : 1;
}
