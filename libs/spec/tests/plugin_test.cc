// Tests of YAML plugin specs: version 1 (questions, sub-questions, defaults) and version 2.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "optimus/spec/loaders.h"
#include "test_util.h"

namespace optimus::spec {
namespace {

using ::testing::HasSubstr;
using testutil::Only;
using testutil::ReadTestData;

TEST(PluginSpecTest, Version2LoadsAndResolvesVersions) {
  Diagnostics d;
  auto p = LoadPluginSpec("optimus-plugin-bq2bq.yaml",
                          ReadTestData("realistic/plugins/optimus-plugin-bq2bq.yaml"), d);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(p->spec_version, 2);
  EXPECT_EQ(p->name, "bq2bq");
  EXPECT_EQ(p->destination_urn_template, "bigquery://<PROJECT>:<DATASET>.<TABLE>");
  ASSERT_EQ(p->asset_parsers.at("bq").size(), 3u);
  EXPECT_EQ(p->asset_parsers.at("bq")[1].selector, "$.query");
  EXPECT_EQ(p->asset_parsers.at("bq")[2].env, "SQL");
  EXPECT_EQ(p->default_config.at("TEST"), "{{.test}}");
  EXPECT_EQ(p->ImageFor(""), "docker.io/goto/optimus-task-bq2bq-executor:0.3.5");
  EXPECT_EQ(p->ImageFor("3.6"), "docker.io/goto/optimus-task-bq2bq-executor:v0.3.6");
  EXPECT_EQ(p->ImageFor("9.9"), "docker.io/goto/optimus-task-bq2bq-executor:0.3.5");
  const PluginVersion v = p->Resolve("3.6");
  EXPECT_EQ(v.entrypoint.shell, "/bin/bash");
  EXPECT_EQ(v.entrypoint.script, "python3 /opt/bumblebee/main.py");
}

TEST(PluginSpecTest, Version2RequiresDefaultImageTagAndScript) {
  Diagnostics d;
  auto p =
      LoadPluginSpec("p.yaml",
                     "version: 2\nname: x\nplugin_versions:\n  default: {image: i}\n"
                     "asset_parsers:\n  bq: [{filepath: a, env: B}, {selector: $.q}]\n  pg: []\n",
                     d);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(Only(d, "plugin_versions.default.tag"),
            "p.yaml:4:12: plugin_versions.default.tag: missing required field");
  EXPECT_THAT(Only(d, "plugin_versions.default.entrypoint.script"), HasSubstr("missing required"));
  EXPECT_THAT(Only(d, "asset_parsers.bq[0]"), HasSubstr("exactly one of them"));
  EXPECT_THAT(Only(d, "asset_parsers.bq[1]"), HasSubstr("exactly one of them"));
  EXPECT_EQ(Only(d, "asset_parsers.pg"),
            "p.yaml:7:3: asset_parsers.pg: unknown parser \"pg\" (want bq, maxcompute, sqlite or "
            "postgres)");
  Diagnostics d2;
  LoadPluginSpec("p.yaml", "version: 2\nname: x\n", d2);
  EXPECT_THAT(Only(d2, "plugin_versions"), HasSubstr("missing required field"));
  Diagnostics d3;
  EXPECT_FALSE(LoadPluginSpec("p.yaml", "version: 7\nname: x\n", d3).has_value());
  EXPECT_EQ(d3.ToString(),
            "p.yaml:1:10: version: unsupported plugin spec version 7 (want 1 or 2)\n");
}

TEST(PluginSpecTest, Version1WithQuestionTree) {
  Diagnostics d;
  auto p = LoadPluginSpec("optimus-plugin-predator.yaml",
                          ReadTestData("realistic/plugins/optimus-plugin-predator.yaml"), d);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(p->spec_version, 1);
  EXPECT_EQ(p->plugin_type, "hook");
  EXPECT_EQ(p->hook_type, "post");
  EXPECT_EQ(p->plugin_mods, std::vector<std::string>{"cli"});
  EXPECT_EQ(p->ImageFor(""), "docker.io/goto/predator:0.2.1");  // already tagged
  EXPECT_EQ(p->Resolve("").entrypoint.script, "predator run");
  ASSERT_EQ(p->questions.size(), 2u);
  const Question& mode = p->questions[0];
  EXPECT_EQ(mode.default_value, "complete");
  EXPECT_TRUE(mode.required);
  ASSERT_EQ(mode.sub_questions.size(), 1u);
  EXPECT_EQ(mode.sub_questions[0].if_value, "incremental");
  const Question& filter = mode.sub_questions[0].questions.at(0);
  EXPECT_EQ(filter.regexp, "^__PARTITION__");
  EXPECT_EQ(filter.min_length, 14);
  EXPECT_EQ(filter.max_length, 200);
  ASSERT_EQ(filter.sub_questions.size(), 1u);
  EXPECT_EQ(filter.sub_questions[0].questions.at(0).name, "LOOKBACK");
  EXPECT_EQ(p->default_config.at("PREDATOR_URL"), "{{.GLOBAL__PREDATOR_HOST}}");
  ASSERT_EQ(p->default_assets.size(), 1u);
  EXPECT_EQ(p->default_assets[0].name, "predator.yaml");

  // The answers a survey would accept.
  EXPECT_EQ(mode.CheckAnswer("incremental"), "");
  EXPECT_EQ(mode.CheckAnswer("sometimes"), "want one of complete, incremental");
  EXPECT_EQ(mode.CheckAnswer(""), "a value is required");
  EXPECT_EQ(filter.CheckAnswer("__PARTITION__ > 1"), "");
  EXPECT_EQ(filter.CheckAnswer("x >= __PARTITION__"), "must start with __PARTITION__");
  EXPECT_EQ(filter.CheckAnswer("__PARTITION__"), "at least 14 characters");
  EXPECT_EQ(filter.sub_questions[0].questions[0].CheckAnswer("7d"), "does not match \"^[0-9]+$\"");
}

TEST(PluginSpecTest, Version1ProblemsAreReported) {
  Diagnostics d;
  auto p = LoadPluginSpec("p.yaml",
                          "name: x\n"
                          "plugintype: hook\n"
                          "hooktype: around\n"
                          "pluginmods: [cli, magic]\n"
                          "questions:\n"
                          "- name: A\n"
                          "  regexp: '([a-z'\n"
                          "- name: B\n"
                          "  minlength: 5\n"
                          "  maxlength: 2\n"
                          "- name: C\n"
                          "  regexp: '^[a-z]+$'\n"
                          "  default: ABC\n"
                          "- name: D\n"
                          "  multiselect: [x, y]\n"
                          "  subquestions:\n"
                          "  - ifvalue: z\n"
                          "    questions: [{name: A}]\n",
                          d);
  ASSERT_TRUE(p.has_value());
  EXPECT_THAT(Only(d, "hooktype"),
              HasSubstr("unknown hook type \"around\" (want pre, post or fail)"));
  EXPECT_EQ(
      Only(d, "pluginmods[1]"),
      "p.yaml:4:19: pluginmods[1]: unknown plugin mod \"magic\" (want cli or dependencyresolver)");
  EXPECT_THAT(Only(d, "questions[0].regexp"),
              HasSubstr("p.yaml:7:11: questions[0].regexp: invalid regular expression \"([a-z\""));
  EXPECT_EQ(Only(d, "questions[1].minlength"),
            "p.yaml:9:14: questions[1].minlength: minlength 5 is larger than maxlength 2");
  EXPECT_EQ(Only(d, "questions[2].default"),
            "p.yaml:13:12: questions[2].default: default \"ABC\" is not a valid answer: does not "
            "match \"^[a-z]+$\"");
  EXPECT_EQ(Only(d, "questions[3].subquestions[0].ifvalue"),
            "p.yaml:17:14: questions[3].subquestions[0].ifvalue: \"z\" is not one of the choices "
            "of \"D\"");
  EXPECT_THAT(Only(d, "questions[3].subquestions[0].questions[0].name"),
              HasSubstr("question \"A\" is asked twice"));
  EXPECT_THAT(Only(d, "image"), HasSubstr("missing required field"));
}

TEST(PluginSpecTest, Version1UntaggedImageGetsPluginVersion) {
  Diagnostics d;
  auto p = LoadPluginSpec(
      "p.yaml", "name: x\nplugintype: task\nimage: host:5000/team/x\npluginversion: 1.2\n", d);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(p->ImageFor("ignored"), "host:5000/team/x:1.2");
  EXPECT_EQ(p->Resolve("").entrypoint.shell, "/bin/sh");
}

TEST(PluginSpecTest, Version1TaskNeedsPluginType) {
  Diagnostics d;
  LoadPluginSpec("p.yaml", "name: x\nimage: i\n", d);
  EXPECT_EQ(d.ToString(), "p.yaml:1:1: plugintype: missing required field (task or hook)\n");
}

// Version 2 as Optimus reads it, with our fields that Optimus ignores: the plugin type, the hook
// type, questions and default assets.
TEST(PluginSpecTest, Version2CarriesOurQuestionsAndHookType) {
  Diagnostics d;
  auto hook = LoadPluginSpec(
      "h.yaml",
      "version: 2\nname: audit\nplugintype: hook\nhooktype: pre\nplugin_versions:\n  default: "
      "{image: i, tag: '1', entrypoint: {script: run}}\nquestions:\n- name: TABLE\n  prompt: "
      "Table\n  required: true\ndefaultassets:\n- name: a.sql\n  value: select 1\n",
      d);
  ASSERT_TRUE(hook.has_value());
  EXPECT_TRUE(d.empty()) << d.ToString();
  EXPECT_EQ(hook->plugin_type, "hook");
  EXPECT_EQ(hook->hook_type, "pre");
  ASSERT_EQ(hook->questions.size(), 1u);
  EXPECT_TRUE(hook->questions[0].required);
  EXPECT_EQ(hook->default_assets.at(0).value, "select 1");
  Diagnostics d2;
  auto task = LoadPluginSpec(
      "t.yaml",
      "version: 2\nname: t\nplugin_versions:\n  default: {image: i, tag: '1', entrypoint: "
      "{script: run}}\n",
      d2);
  EXPECT_EQ(task->plugin_type, "task");  // Optimus's version 2 has no type: a task
  Diagnostics d3;
  LoadPluginSpec("x.yaml",
                 "version: 2\nname: x\nplugintype: hook\nplugin_versions:\n  default: {image: "
                 "i, tag: '1', entrypoint: {script: run}}\n",
                 d3);
  EXPECT_THAT(Only(d3, "hooktype"), HasSubstr("missing required field for a hook"));
}

// Every plugin shipped in examples/plugins is Optimus's version 2 and passes the checks Optimus's
// server makes when it loads plugins (name, spec version, a default version with an image, a tag
// and an entrypoint script), so an Optimus server starts with them too.
TEST(PluginSpecTest, ShippedPluginsAreOptimusVersion2) {
  size_t seen = 0;
  for (const auto& entry : std::filesystem::directory_iterator(OPTIMUS_EXAMPLE_PLUGINS)) {
    const std::string file = entry.path().filename().string();
    if (!file.starts_with("optimus-plugin-") || !file.ends_with(".yaml")) continue;
    SCOPED_TRACE(file);
    ++seen;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    Diagnostics d;
    auto p = LoadPluginSpec(file, text.str(), d);
    ASSERT_TRUE(p.has_value()) << d.ToString();
    EXPECT_TRUE(d.empty()) << d.ToString();
    EXPECT_EQ(p->spec_version, 2);
    EXPECT_FALSE(p->name.empty());
    const PluginVersion& def = p->plugin_versions.at("default");
    EXPECT_FALSE(def.image.empty());
    EXPECT_FALSE(def.tag.empty());
    EXPECT_FALSE(def.entrypoint.script.empty());
    if (p->plugin_type == "task") {
      EXPECT_FALSE(p->default_assets.empty()) << "job create writes no asset";
      EXPECT_TRUE(p->destination_urn_template.empty() || !p->questions.empty())
          << "its destination is formed from config that job create never asks for";
    }
  }
  EXPECT_GE(seen, 5u);
}

}  // namespace
}  // namespace optimus::spec
