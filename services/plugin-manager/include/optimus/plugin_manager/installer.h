// Declarative plugin installation (the simplify-plugins RFC): plugin artifacts — single YAML
// plugin files, or .tar.gz / .zip archives of them — fetched from providers (http/https, s3, gcs,
// a local folder), checked, and installed as one set, atomically. A server (or its init
// container, `optimus plugin install`) runs it at start; a broken artifact never replaces a
// working set.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace optimus::plugin_manager {

// Where artifacts come from (one entry of plugins.providers).
struct Provider {
  std::string name;
  std::string type;  // http | https | s3 | gcs | local
  // http(s): the base URL artifacts' paths are relative to; s3: s3://bucket[/prefix][?endpoint=
  // ...&region=...&path_style=true]; gcs: gs://bucket[/prefix][?endpoint=...]; local: a folder.
  std::string url;
  // http(s): the Authorization header's value, read from this environment variable or file
  // (never written in the config itself), e.g. "Bearer <token>".
  std::string auth_header_env;
  std::string auth_header_file;
  // gcs: the service-account key JSON, from this environment variable or file (none with an
  // emulator); s3: AWS_* variables of the process.
  std::string credentials_env;
  std::string credentials_file;
};

// One entry of plugins.plugins: an artifact of a provider, with its expected sha256 (hex).
struct Artifact {
  std::string provider;
  std::string path;
  std::string sha256;  // optional
};

struct InstallPlan {
  std::vector<Provider> providers;
  std::vector<Artifact> artifacts;
  bool empty() const { return artifacts.empty(); }
};

// Reads plugins.providers and plugins.plugins (YAML text, as config::Config::Yaml gives them).
// InvalidArgument naming the entry and the field.
absl::StatusOr<InstallPlan> ParseInstallPlan(const std::string& providers_yaml,
                                             const std::string& plugins_yaml);

// The `plugins:` section of a server config file (providers, plugins, install_dir; its other
// keys are not read), for `optimus plugin install -c FILE`. `install_dir` is set when the file
// names one.
absl::StatusOr<InstallPlan> ReadInstallConfig(const std::filesystem::path& file,
                                              std::string* install_dir);

// The bytes of `path` at `provider`. NotFound, PermissionDenied, Unavailable as the provider
// answers, with the provider's name and the path in the message.
using Fetcher =
    std::function<absl::StatusOr<std::string>(const Provider& provider, const std::string& path)>;
absl::StatusOr<std::string> FetchArtifact(const Provider& provider, const std::string& path);

// The plugin files an artifact holds, by plugin file name (optimus-plugin-<name>.yaml): a YAML
// file is one plugin; an archive's optimus-plugin-*.yaml entries, at any depth, are plugins (its
// other entries are ignored). InvalidArgument for an entry that is a link, absolute, or climbs
// out with "..", an archive that does not read, or entries larger than allowed.
absl::StatusOr<std::map<std::string, std::string>> PluginFilesOf(const std::string& path,
                                                                 const std::string& bytes);

struct InstalledPlugin {
  std::string name;    // the plugin's name
  std::string file;    // optimus-plugin-<name>.yaml
  std::string sha256;  // of the file
  std::string source;  // provider:path
};

struct InstalledSet {
  std::string digest;  // sha256 over the set's files (names and contents, in name order)
  std::filesystem::path dir;
  std::vector<InstalledPlugin> plugins;
};

// Fetches every artifact, checks it (checksum, archive entries, each plugin file a valid plugin,
// no plugin twice) and only then writes the set to <install_dir>/sets/<digest>/ and points
// <install_dir>/current at it with an atomic rename. On any failure nothing changes and the
// status names the artifact and why.
absl::StatusOr<InstalledSet> Install(const InstallPlan& plan,
                                     const std::filesystem::path& install_dir,
                                     const Fetcher& fetch = FetchArtifact);

// The set <install_dir>/current points at: NotFound when none was installed.
absl::StatusOr<std::filesystem::path> CurrentSet(const std::filesystem::path& install_dir);

// One archive (.tar.gz) of the plugin files in `dirs` as a server serves them for `optimus
// plugin sync`, the first file of a name winning as in spec::ReadPlugins; with its sha256.
struct PluginArchive {
  std::string bytes;
  std::string sha256;
  std::map<std::string, std::string> files;  // file name -> content
};
absl::StatusOr<PluginArchive> ArchivePluginFiles(const std::vector<std::filesystem::path>& dirs);

}  // namespace optimus::plugin_manager
