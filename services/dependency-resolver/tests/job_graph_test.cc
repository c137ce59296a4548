// The job graph: inferred and static upstreams, unknowns, cycles, and that a change resolves
// only the jobs it affects.
#include "optimus/dependency_resolver/job_graph.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace optimus::dependency_resolver {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

JobLineage Job(const std::string& name, const std::string& destination,
               std::vector<std::string> sources, std::vector<std::string> statics = {},
               const std::string& project = "p", const std::string& ns = "ns") {
  return JobLineage{project, ns, name, destination, std::move(sources), std::move(statics), {}};
}

std::vector<std::string> UpstreamKeys(const Resolution& r) {
  std::vector<std::string> out;
  for (const auto& u : r.upstreams) out.push_back(u.key + " via " + u.via);
  return out;
}

TEST(JobGraphTest, SourcesMatchDestinationsAcrossProjects) {
  JobGraph g;
  JobLineage c = Job("c", "bq://q:d.c", {"bq://p:d.a", "bq://p:d.b", "bq://q:d.c"}, {}, "q");
  c.upstream_projects = {"p"};  // q accepts p's jobs as upstreams
  g.Apply({Job("a", "bq://p:d.a", {"bq://raw:r.x"}), Job("b", "bq://p:d.b", {"bq://p:d.a"}), c});
  EXPECT_THAT(UpstreamKeys(g.Resolve("p/b")), ElementsAre("p/a via bq://p:d.a"));
  EXPECT_THAT(UpstreamKeys(g.Resolve("q/c")),
              ElementsAre("p/a via bq://p:d.a", "p/b via bq://p:d.b"));
  EXPECT_THAT(g.Resolve("q/c").unknown_sources, IsEmpty());  // its own table is not unknown
  EXPECT_THAT(g.Resolve("p/a").unknown_sources, ElementsAre("bq://raw:r.x"));
  EXPECT_EQ(g.Resolve("p/b").upstreams[0].namespace_name, "ns");
  EXPECT_THAT(g.Downstreams("p/a"), ElementsAre("p/b", "q/c"));
  EXPECT_THAT(g.Impact("p/a"), ElementsAre("p/b", "q/c"));
}

// Issue 20, part 2: a project claiming a table that another project's job reads (or writes)
// does not enter that project's graph unless that project accepts it.
TEST(JobGraphTest, AnotherProjectClaimingYourTablesStaysOutOfYourGraph) {
  JobGraph g;
  g.Apply({Job("a", "bq://p:d.a", {"bq://raw:r.x"}), Job("b", "bq://p:d.b", {"bq://p:d.a"}),
           // evil writes what p/a reads and what p/b writes, and reads p/b's table
           Job("x", "bq://raw:r.x", {"bq://p:d.b"}, {}, "evil"),
           Job("y", "bq://p:d.b", {}, {}, "evil")});
  EXPECT_THAT(UpstreamKeys(g.Resolve("p/a")), IsEmpty()) << "no sensor on evil's job";
  EXPECT_THAT(g.Resolve("p/a").unknown_sources, ElementsAre("bq://raw:r.x"));
  EXPECT_THAT(g.Resolve("p/b").shared_destination, IsEmpty()) << "evil's job names stay hidden";
  EXPECT_THAT(g.Resolve("p/b").cycle, IsEmpty()) << "no cycle through evil/x";
  EXPECT_THAT(g.Downstreams("evil/x"), IsEmpty());
  EXPECT_THAT(g.Impact("evil/y"), ElementsAre("evil/x")) << "only evil's own jobs";
  // evil's own graph may read p's tables (its choice to trust p) ...
  EXPECT_THAT(UpstreamKeys(g.Resolve("evil/x")), ElementsAre("evil/y via bq://p:d.b"))
      << "evil does not accept p either";
  JobLineage trusting = Job("x", "bq://raw:r.x", {"bq://p:d.b"}, {}, "evil");
  trusting.upstream_projects = {"p"};
  g.Upsert(trusting);
  EXPECT_THAT(UpstreamKeys(g.Resolve("evil/x")),
              ElementsAre("evil/y via bq://p:d.b", "p/b via bq://p:d.b"));
  EXPECT_THAT(UpstreamKeys(g.Resolve("p/a")), IsEmpty()) << "... which gives it no edge into p";
  // p opting in to every project ("*") brings the edge back.
  JobLineage open = Job("a", "bq://p:d.a", {"bq://raw:r.x"});
  open.upstream_projects = {"*"};
  g.Upsert(open);
  EXPECT_THAT(UpstreamKeys(g.Resolve("p/a")), ElementsAre("evil/x via bq://raw:r.x"));
  EXPECT_THAT(g.Downstreams("evil/x"), ElementsAre("p/a"));
}

TEST(JobGraphTest, StaticUpstreamsInAndAcrossProjects) {
  JobGraph g;
  g.Apply({Job("a", "", {}), Job("x", "", {}, {}, "other"),
           Job("b", "", {}, {"a", "other/x", "missing", "gone/y"})});
  EXPECT_THAT(UpstreamKeys(g.Resolve("p/b")), ElementsAre("other/x via static", "p/a via static"));
  EXPECT_THAT(g.Resolve("p/b").unknown_statics, ElementsAre("missing", "gone/y"));
  // The missing job appears later: b now has it.
  EXPECT_THAT(g.Upsert(Job("missing", "", {})), ElementsAre("p/b", "p/missing"));
  EXPECT_THAT(g.Resolve("p/b").unknown_statics, ElementsAre("gone/y"));
}

TEST(JobGraphTest, InferredAndStaticToTheSameJobIsOneUpstream) {
  JobGraph g;
  g.Apply({Job("a", "bq://p:d.a", {}), Job("b", "", {"bq://p:d.a"}, {"a"})});
  EXPECT_THAT(UpstreamKeys(g.Resolve("p/b")), ElementsAre("p/a via bq://p:d.a"));
}

TEST(JobGraphTest, AChangeResolvesOnlyWhatItAffects) {
  JobGraph g;
  g.Apply({Job("a", "bq://p:d.a", {}), Job("b", "bq://p:d.b", {"bq://p:d.a"}),
           Job("c", "bq://p:d.c", {"bq://p:d.b"}), Job("u", "bq://p:d.u", {"bq://raw:r.z"})});
  // Same lineage: nothing to do.
  EXPECT_THAT(g.Upsert(Job("b", "bq://p:d.b", {"bq://p:d.a"})), IsEmpty());
  // New SQL with the same tables changes only b's own record; c keeps its upstream.
  EXPECT_THAT(g.Upsert(Job("b", "bq://p:d.b", {"bq://p:d.a", "bq://raw:r.q"})), ElementsAre("p/b"));
  // b writes elsewhere: c loses its upstream, u (unrelated) is untouched.
  EXPECT_THAT(g.Upsert(Job("b", "bq://p:d.b2", {"bq://p:d.a"})), ElementsAre("p/b", "p/c"));
  EXPECT_THAT(g.Resolve("p/c").upstreams, IsEmpty());
  EXPECT_THAT(g.Resolve("p/c").unknown_sources, ElementsAre("bq://p:d.b"));
  // A new job writing a table someone reads gives that reader an upstream.
  EXPECT_THAT(g.Upsert(Job("z", "bq://raw:r.z", {})), ElementsAre("p/u", "p/z"));
  // Removing it takes the upstream away again.
  EXPECT_THAT(g.Remove("p/z"), ElementsAre("p/u"));
  EXPECT_THAT(g.Resolve("p/u").unknown_sources, ElementsAre("bq://raw:r.z"));
  EXPECT_FALSE(g.Has("p/z"));
}

TEST(JobGraphTest, MovingNamespaceTellsDownstreams) {
  JobGraph g;
  g.Apply({Job("a", "bq://p:d.a", {}), Job("b", "", {"bq://p:d.a"})});
  EXPECT_THAT(g.Upsert(Job("a", "bq://p:d.a", {}, {}, "p", "ns2")), ElementsAre("p/a", "p/b"));
  EXPECT_EQ(g.Resolve("p/b").upstreams[0].namespace_name, "ns2");
}

TEST(JobGraphTest, CyclesAreFoundWithTheirPathAndClearedWhenBroken) {
  JobGraph g;
  g.Apply({Job("a", "bq://p:d.a", {"bq://p:d.c"}), Job("b", "bq://p:d.b", {"bq://p:d.a"}),
           Job("x", "bq://p:d.x", {"bq://p:d.a"})});
  EXPECT_THAT(g.Resolve("p/a").cycle, IsEmpty());
  // c closes a -> b -> c -> a.
  EXPECT_THAT(g.Upsert(Job("c", "bq://p:d.c", {"bq://p:d.b"})), ElementsAre("p/a", "p/b", "p/c"));
  EXPECT_THAT(g.Resolve("p/a").cycle, ElementsAre("p/a", "p/b", "p/c", "p/a"));
  EXPECT_THAT(g.Resolve("p/c").cycle, ElementsAre("p/c", "p/a", "p/b", "p/c"));
  EXPECT_THAT(g.Resolve("p/x").cycle, IsEmpty());  // downstream of the cycle, not on it
  // c stops reading b: the cycle is gone for every member.
  EXPECT_THAT(g.Upsert(Job("c", "bq://p:d.c", {})), ElementsAre("p/a", "p/b", "p/c"));
  EXPECT_THAT(g.Resolve("p/b").cycle, IsEmpty());
}

TEST(JobGraphTest, SharedDestinationsAreReportedBothWays) {
  JobGraph g;
  g.Apply({Job("a", "bq://p:d.t", {}), Job("b", "bq://p:d.t", {}), Job("r", "", {"bq://p:d.t"})});
  EXPECT_THAT(g.Resolve("p/a").shared_destination, ElementsAre("p/b"));
  EXPECT_THAT(g.Resolve("p/b").shared_destination, ElementsAre("p/a"));
  EXPECT_THAT(UpstreamKeys(g.Resolve("p/r")),
              ElementsAre("p/a via bq://p:d.t", "p/b via bq://p:d.t"));
}

TEST(JobGraphTest, PriorityWeightCountsUpstreamsOfTheJobsOwnNamespaceOnly) {
  JobGraph g;
  g.Apply({Job("a", "bq://p:d.a", {}), Job("b", "bq://p:d.b", {}),
           Job("o", "bq://p:d.o", {}, {}, "p", "other"), Job("q", "bq://q:d.q", {}, {}, "q"),
           Job("r", "bq://p:d.r", {"bq://p:d.a", "bq://p:d.b", "bq://p:d.o", "bq://q:d.q"})});
  EXPECT_EQ(PriorityWeight(*g.Find("p/a"), g.Resolve("p/a")), 10000);
  EXPECT_EQ(PriorityWeight(*g.Find("p/r"), g.Resolve("p/r")), 9980);
  // Never zero or below, however many upstreams.
  Resolution many;
  for (int i = 0; i < 2000; ++i) many.upstreams.push_back({"p/u", "p", "ns", "u", "static"});
  EXPECT_EQ(PriorityWeight(Job("z", "", {}), many), 1);
}

TEST(JobGraphTest, ALargeLayeredBatchResolvesEveryJobOnce) {
  JobGraph g;
  std::vector<JobLineage> jobs;
  for (int layer = 0; layer < 10; ++layer) {
    for (int i = 0; i < 200; ++i) {
      std::vector<std::string> sources;
      if (layer > 0) {
        sources.push_back("bq://p:d.l" + std::to_string(layer - 1) + "_" + std::to_string(i));
        sources.push_back("bq://p:d.l" + std::to_string(layer - 1) + "_" +
                          std::to_string((i * 7 + 3) % 200));
      }
      jobs.push_back(Job("l" + std::to_string(layer) + "_" + std::to_string(i),
                         "bq://p:d.l" + std::to_string(layer) + "_" + std::to_string(i), sources));
    }
  }
  EXPECT_EQ(g.Apply(jobs).size(), 2000u);
  EXPECT_EQ(g.Resolve("p/l9_5").upstreams.size(), 2u);
  // l1_0 reads l0_0 directly, and so does l1_171 ((171 * 7 + 3) % 200 == 0).
  EXPECT_THAT(g.Downstreams("p/l0_0"), ElementsAre("p/l1_0", "p/l1_171"));
  const auto impact = g.Impact("p/l0_0");
  EXPECT_GT(impact.size(), 9u);
  for (const auto& key : impact) EXPECT_NE(key.rfind("p/l0_", 0), 0u) << key;
  EXPECT_THAT(g.Upsert(jobs[0]), IsEmpty());
}

}  // namespace
}  // namespace optimus::dependency_resolver
