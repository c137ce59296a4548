// Plugin installation from providers: a loopback HTTP server that wants an auth header, a local
// folder; YAML files, .tar.gz and .zip archives; and every refusal (checksum, ../ entries, links,
// invalid plugins, corrupt archives, a provider that refuses) leaving the set installed before.
#include "optimus/plugin_manager/installer.h"

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "optimus/pipeline/pipeline.h"
#include "optimus/testing/testing.h"

namespace optimus::plugin_manager {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Shipped(const std::string& name) {
  return Slurp(fs::path(OPTIMUS_EXAMPLE_PLUGINS) / ("optimus-plugin-" + name + ".yaml"));
}

struct Entry {
  std::string path;
  std::string content;
  bool symlink = false;
};

// An archive in memory: "tar.gz" or "zip".
std::string MakeArchive(const std::string& format, const std::vector<Entry>& entries) {
  archive* a = archive_write_new();
  if (format == "zip") {
    archive_write_set_format_zip(a);
  } else {
    archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
  }
  std::string buffer(4u << 20, '\0');
  size_t used = 0;
  archive_write_open_memory(a, buffer.data(), buffer.size(), &used);
  for (const Entry& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.path.c_str());
    if (e.symlink) {
      archive_entry_set_filetype(entry, AE_IFLNK);
      archive_entry_set_symlink(entry, e.content.c_str());
      archive_entry_set_size(entry, 0);
    } else {
      archive_entry_set_filetype(entry, AE_IFREG);
      archive_entry_set_size(entry, static_cast<la_int64_t>(e.content.size()));
    }
    archive_entry_set_perm(entry, 0644);
    archive_write_header(a, entry);
    if (!e.symlink) archive_write_data(a, e.content.data(), e.content.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  buffer.resize(used);
  return buffer;
}

class InstallerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.File("repo/team"));
    server_.Get(R"(/plugins/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      ++requests_;
      if (req.get_header_value("Authorization") != "Bearer s3cret") {
        res.status = 401;
        return;
      }
      auto it = served_.find(req.matches[1].str());
      if (it == served_.end()) {
        res.status = 404;
        return;
      }
      res.set_content(it->second, "application/octet-stream");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    setenv("OPTIMUS_TEST_PLUGIN_AUTH", "Bearer s3cret", 1);
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  std::string Providers() const {
    return "[{name: web, type: http, url: 'http://127.0.0.1:" + std::to_string(port_) +
           "/plugins', auth_header_env: OPTIMUS_TEST_PLUGIN_AUTH}, {name: disk, type: local, url: "
           "'" +
           dir_.File("repo") + "'}]";
  }

  absl::StatusOr<InstalledSet> InstallFrom(const std::string& plugins) {
    auto plan = ParseInstallPlan(Providers(), plugins);
    if (!plan.ok()) return plan.status();
    return Install(*plan, dir_.File("installed"));
  }

  std::vector<std::string> CurrentFiles() {
    std::vector<std::string> files;
    auto current = CurrentSet(dir_.File("installed"));
    if (!current.ok()) return files;
    for (const auto& e : fs::directory_iterator(*current)) {
      files.push_back(e.path().filename().string());
    }
    std::sort(files.begin(), files.end());
    return files;
  }

  testing::TempDir dir_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  int requests_ = 0;
  std::map<std::string, std::string> served_;
};

TEST_F(InstallerTest, YamlAndArchivesFromHttpAndLocalInstallAsOneSet) {
  served_["bq2bq.yaml"] = Shipped("bq2bq");
  served_["hooks.tar.gz"] =
      MakeArchive("tar.gz", {{"hooks/optimus-plugin-predator.yaml", Shipped("predator")},
                             {"hooks/README.md", "ignored"}});
  std::ofstream(dir_.File("repo/team/sql.zip"), std::ios::binary)
      << MakeArchive("zip", {{"optimus-plugin-pg2pg.yaml", Shipped("pg2pg")},
                             {"optimus-plugin-sqlite2sqlite.yaml", Shipped("sqlite2sqlite")}});
  const std::string sha = pipeline::Sha256Hex(served_["bq2bq.yaml"]);
  auto set = InstallFrom("[{provider: web, path: bq2bq.yaml, sha256: " + sha +
                         "}, {provider: web, path: hooks.tar.gz}, {provider: disk, path: "
                         "team/sql.zip}]");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->plugins.size(), 4u);
  EXPECT_EQ(CurrentFiles(),
            (std::vector<std::string>{".optimus-plugins.json", "optimus-plugin-bq2bq.yaml",
                                      "optimus-plugin-pg2pg.yaml", "optimus-plugin-predator.yaml",
                                      "optimus-plugin-sqlite2sqlite.yaml"}));
  EXPECT_EQ(Slurp(*CurrentSet(dir_.File("installed")) / "optimus-plugin-bq2bq.yaml"),
            Shipped("bq2bq"));
  EXPECT_THAT(Slurp(*CurrentSet(dir_.File("installed")) / ".optimus-plugins.json"),
              HasSubstr("\"source\": \"web:hooks.tar.gz\""));
  // The same artifacts again: the same set and digest.
  auto again = InstallFrom(
      "[{provider: web, path: bq2bq.yaml}, {provider: web, path: "
      "hooks.tar.gz}, {provider: disk, path: team/sql.zip}]");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->digest, set->digest);
}

TEST_F(InstallerTest, EveryBadArtifactLeavesThePreviousSetInstalled) {
  served_["bq2bq.yaml"] = Shipped("bq2bq");
  ASSERT_TRUE(InstallFrom("[{provider: web, path: bq2bq.yaml}]").ok());
  const auto before = CurrentFiles();
  const auto before_dir = *CurrentSet(dir_.File("installed"));

  served_["evil.tar.gz"] = MakeArchive("tar.gz", {{"../optimus-plugin-x.yaml", "name: x"}});
  served_["link.tar.gz"] =
      MakeArchive("tar.gz", {{"optimus-plugin-x.yaml", "/etc/passwd", /*symlink=*/true}});
  served_["corrupt.tar.gz"] = served_["link.tar.gz"].substr(0, 40) + "garbage";
  served_["invalid.yaml"] = "version: 2\nname: broken\n";  // no plugin_versions
  served_["empty.zip"] = MakeArchive("zip", {{"notes.txt", "nothing here"}});
  served_["dup.tar.gz"] =
      MakeArchive("tar.gz", {{"a/optimus-plugin-bq2bq.yaml", Shipped("bq2bq")}});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[{provider: web, path: bq2bq.yaml, sha256: " + std::string(64, 'a') + "}]", "sha256 is"},
      {"[{provider: web, path: evil.tar.gz}]", "climbs out of the archive"},
      {"[{provider: web, path: link.tar.gz}]", "not a regular file"},
      {"[{provider: web, path: corrupt.tar.gz}]", "corrupt.tar.gz"},
      {"[{provider: web, path: invalid.yaml}]", "plugin_versions"},
      {"[{provider: web, path: empty.zip}]", "holds no optimus-plugin-*.yaml"},
      {"[{provider: web, path: bq2bq.yaml}, {provider: web, path: dup.tar.gz}]",
       "plugin bq2bq is also in web:bq2bq.yaml"},
      {"[{provider: web, path: missing.yaml}]", "HTTP 404"},
      {"[{provider: disk, path: team/none.zip}]", "cannot read"},
  };
  for (const auto& [plugins, why] : cases) {
    SCOPED_TRACE(plugins);
    auto set = InstallFrom(plugins);
    ASSERT_FALSE(set.ok());
    EXPECT_THAT(std::string(set.status().message()), HasSubstr(why));
    EXPECT_THAT(std::string(set.status().message()), HasSubstr("plugin artifact "));
    EXPECT_EQ(CurrentFiles(), before);
    EXPECT_EQ(*CurrentSet(dir_.File("installed")), before_dir);
  }
  // A provider that refuses the credentials.
  setenv("OPTIMUS_TEST_PLUGIN_AUTH", "Bearer wrong", 1);
  auto refused = InstallFrom("[{provider: web, path: bq2bq.yaml}]");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("the auth header was refused"));
  unsetenv("OPTIMUS_TEST_PLUGIN_AUTH");
  auto unset = InstallFrom("[{provider: web, path: bq2bq.yaml}]");
  EXPECT_THAT(std::string(unset.status().message()),
              HasSubstr("environment variable OPTIMUS_TEST_PLUGIN_AUTH is not set"));
  EXPECT_EQ(CurrentFiles(), before);
}

TEST(InstallPlanTest, ConfigProblemsNameTheEntry) {
  auto bad = [](const std::string& providers, const std::string& plugins) {
    auto plan = ParseInstallPlan(providers, plugins);
    return plan.ok() ? std::string("ok") : std::string(plan.status().message());
  };
  EXPECT_THAT(bad("[{name: a, type: ftp, url: x}]", ""), HasSubstr("type must be http"));
  EXPECT_THAT(bad("[{name: a, type: http, url: x}]", ""), HasSubstr("must start with http://"));
  EXPECT_THAT(bad("[{name: a, type: local, url: /x}, {name: a, type: local, url: /y}]", ""),
              HasSubstr("listed twice"));
  EXPECT_THAT(bad("[{name: a, type: local, url: /x, token: t}]", ""),
              HasSubstr("unknown field token"));
  EXPECT_THAT(bad("[{name: a, type: local, url: /x}]", "[{provider: b, path: p.yaml}]"),
              HasSubstr("plugins.plugins[0].provider \"b\" is not in plugins.providers"));
  EXPECT_THAT(bad("[{name: a, type: local, url: /x}]", "[{provider: a, path: ../p.yaml}]"),
              HasSubstr("without .."));
  EXPECT_THAT(bad("[{name: a, type: local, url: /x}]", "[{provider: a, path: p, sha256: 12}]"),
              HasSubstr("64 hex digits"));
  EXPECT_EQ(bad("[{name: a, type: gcs, url: 'gs://b/p'}]", "[{provider: a, path: p.yaml}]"), "ok");
}

TEST(PluginArchiveTest, TheServedArchiveHoldsTheFirstFileOfEachNameAndIsStable) {
  testing::TempDir dir;
  fs::create_directories(dir.File("a"));
  fs::create_directories(dir.File("b"));
  std::ofstream(dir.File("a/optimus-plugin-bq2bq.yaml")) << Shipped("bq2bq");
  std::ofstream(dir.File("b/optimus-plugin-bq2bq.yaml")) << "shadowed";
  std::ofstream(dir.File("b/optimus-plugin-shell.yaml")) << Shipped("shell");
  auto archive = ArchivePluginFiles({dir.File("a"), dir.File("b")});
  ASSERT_TRUE(archive.ok()) << archive.status();
  EXPECT_EQ(archive->files.size(), 2u);
  EXPECT_EQ(archive->files.at("optimus-plugin-bq2bq.yaml"), Shipped("bq2bq"));
  auto files = PluginFilesOf("plugins.tar.gz", archive->bytes);
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, archive->files);
  auto again = ArchivePluginFiles({dir.File("a"), dir.File("b")});
  EXPECT_EQ(again->sha256, archive->sha256);
  EXPECT_EQ(again->bytes, archive->bytes);
}

}  // namespace
}  // namespace optimus::plugin_manager
