// The DAG renderer: our template engine gives byte for byte what Go's text/template gives for
// the golden context (templates/testdata), and a job's spec and lineage fill that context.
#include "optimus/compiler/dag_renderer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "nlohmann/json.hpp"
#include "optimus/spec/loaders.h"

namespace optimus::compiler {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kTemplates = OPTIMUS_COMPILER_TEMPLATES;

std::string Slurp(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

tmpl::Value FromJson(const nlohmann::json& j) {
  if (j.is_object()) {
    tmpl::Map m;
    for (auto it = j.begin(); it != j.end(); ++it) m[it.key()] = FromJson(it.value());
    return tmpl::Value(std::move(m));
  }
  if (j.is_array()) {
    tmpl::List l;
    for (const auto& item : j) l.push_back(FromJson(item));
    return tmpl::Value(std::move(l));
  }
  if (j.is_boolean()) return tmpl::Value(j.get<bool>());
  if (j.is_number_integer()) return tmpl::Value(j.get<int64_t>());
  if (j.is_number_float()) return tmpl::Value(j.get<double>());
  if (j.is_null()) return tmpl::Value();
  return tmpl::Value(j.get<std::string>());
}

TEST(DagRendererTest, GoldenFilesOfBothAirflowVersions) {
  const auto context = nlohmann::json::parse(Slurp(kTemplates + "/testdata/context.json"));
  for (int major : {2, 3}) {
    for (const auto& [name, job] : context["Jobs"].items()) {
      SCOPED_TRACE(std::to_string(major) + " " + name);
      nlohmann::json data = context["Common"];
      data["Job"] = job["Job"];
      auto dag = RenderDagTemplate(major, FromJson(data));
      ASSERT_TRUE(dag.ok()) << dag.status();
      const std::string golden =
          Slurp(kTemplates + "/testdata/airflow" + std::to_string(major) + "/" + name + ".py");
      ASSERT_FALSE(golden.empty());
      EXPECT_EQ(*dag, golden);
    }
  }
}

TEST(DagRendererTest, PythonLiteralsEscapeEverything) {
  EXPECT_EQ(PythonLiteral(tmpl::Value("a\"b\\c\nd\x01")), "\"a\\\"b\\\\c\\nd\\x01\"");
  EXPECT_EQ(PythonLiteral(tmpl::Value(true)), "True");
  EXPECT_EQ(PythonLiteral(tmpl::Value()), "None");
  EXPECT_EQ(PythonLiteral(
                tmpl::Value(tmpl::Map{{"b", tmpl::Value(int64_t{2})}, {"a", tmpl::Value("x")}})),
            "{\"a\": \"x\", \"b\": 2}");
  EXPECT_EQ(PythonLiteral(tmpl::Value(tmpl::List{tmpl::Value(1), tmpl::Value("y")})), "[1, \"y\"]");
}

std::map<std::string, spec::PluginSpec> Plugins() {
  std::map<std::string, spec::PluginSpec> out;
  for (const char* file : {"optimus-plugin-bq2bq.yaml", "optimus-plugin-predator.yaml"}) {
    spec::Diagnostics d;
    auto p = spec::LoadPluginSpec(file, Slurp(std::string(OPTIMUS_EXAMPLE_PLUGINS "/") + file), d);
    EXPECT_TRUE(p.has_value()) << d.ToString();
    out[p->name] = *p;
  }
  return out;
}

events::v1::JobResolution Resolution() {
  events::v1::JobResolution r;
  r.set_project("p");
  r.set_namespace_("ns");
  r.set_name("p.d.orders");
  r.set_spec_yaml(
      "version: 3\nname: p.d.orders\nowner: data@example.com\n"
      "schedule: {start_date: '2024-01-01', interval: '0 2 * * *'}\n"
      "behavior:\n  retry: {count: 2, delay: 5m}\n  notify:\n  - on: sla_miss\n"
      "    config: {duration: 2h}\n    channels: ['slack://#data']\n"
      "task:\n  name: bq2bq\n  config: {PROJECT: p, DATASET: d, TABLE: orders}\n"
      "hooks:\n- name: predator\n  config: {BQ_TABLE: p.d.orders}\n"
      "dependencies:\n- http: {name: vendor, url: 'https://v.example.com/ready'}\n"
      "metadata:\n  airflow: {pool: etl}\n");
  auto* up = r.add_upstreams();
  up->set_project("p");
  up->set_namespace_("raw");
  up->set_name("p.d.raw_orders");
  up->set_via("bigquery://p:d.raw_orders");
  return r;
}

TEST(DagRendererTest, ASpecAndItsLineageFillTheDag) {
  events::v1::ProjectRecord project;
  project.set_name("p");
  (*project.mutable_config())["SCHEDULER_VERSION"] = "2.10";
  auto dag = RenderDag(Resolution(), &project, Plugins(),
                       RenderOptions{"1.0", "http://rc:8080", "rc:9100", "optimus:1.0"});
  ASSERT_TRUE(dag.ok()) << dag.status();
  EXPECT_THAT(*dag, HasSubstr("dag_id=\"p.d.orders\""));
  EXPECT_THAT(*dag, HasSubstr("upstream_job=\"p.d.raw_orders\""));
  EXPECT_THAT(*dag, HasSubstr("upstream_namespace=\"raw\""));
  EXPECT_THAT(*dag, HasSubstr("\"retries\": job_retries(2)"));
  EXPECT_THAT(*dag, HasSubstr("job_retry_delay(300)"));
  EXPECT_THAT(*dag, HasSubstr("timedelta(seconds=7200)"));
  EXPECT_THAT(*dag, HasSubstr("image=\"docker.io/goto/optimus-task-bq2bq-executor:0.3.6\""));
  EXPECT_THAT(*dag, HasSubstr("task_id=\"hook_predator\""));
  EXPECT_THAT(*dag, HasSubstr("url=\"https://v.example.com/ready\""));
  EXPECT_THAT(*dag, HasSubstr("pool_for(\"task\", \"etl\")"));
  // Deterministic: the same input renders the same bytes (publishing compares checksums).
  EXPECT_EQ(*dag, *RenderDag(Resolution(), &project, Plugins(),
                             RenderOptions{"1.0", "http://rc:8080", "rc:9100", "optimus:1.0"}));

  (*project.mutable_config())["SCHEDULER_VERSION"] = "3.1";
  auto v3 = RenderDag(Resolution(), &project, Plugins(),
                      RenderOptions{"1.0", "http://rc:8080", "rc:9100", "optimus:1.0"});
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_NE(*v3, *dag);
  (*project.mutable_config())["SCHEDULER_VERSION"] = "1.10";
  EXPECT_FALSE(RenderDag(Resolution(), &project, Plugins(), {}).ok());
}

TEST(DagRendererTest, UnknownPluginsAreNamed) {
  auto dag = RenderDag(Resolution(), nullptr, {}, {});
  ASSERT_FALSE(dag.ok());
  EXPECT_THAT(std::string(dag.status().message()), HasSubstr("unknown task plugin \"bq2bq\""));
}

}  // namespace
}  // namespace optimus::compiler
