// Plugin installation: fetch, check, then swap in one set (see installer.h).
#include "optimus/plugin_manager/installer.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "optimus/blob/blob_store.h"
#include "optimus/blob/curl_client.h"
#include "optimus/blob/gcs_blob_store.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/spec/loaders.h"

namespace optimus::plugin_manager {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMaxArtifactBytes = 64u << 20;  // one download
constexpr size_t kMaxPluginBytes = 4u << 20;     // one plugin file
constexpr size_t kMaxArchiveEntries = 10000;
constexpr char kManifest[] = ".optimus-plugins.json";

std::string Scalar(const YAML::Node& map, const char* key) {
  const YAML::Node value = map[key];
  return value && value.IsScalar() ? value.as<std::string>() : std::string();
}

bool ClimbsOut(const std::string& path) {
  if (path.empty() || path.front() == '/') return true;
  for (const auto& part : fs::path(path)) {
    if (part == "..") return true;
  }
  return false;
}

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<std::string> ReadWhole(const fs::path& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path.string());
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() > limit) {
    return absl::InvalidArgumentError(path.string() + " is larger than " + std::to_string(limit) +
                                      " bytes");
  }
  return bytes;
}

// A value given by an environment variable or a file (the first non-empty), trimmed.
absl::StatusOr<std::string> FromEnvOrFile(const std::string& env, const std::string& file,
                                          const std::string& what) {
  if (!env.empty()) {
    const char* value = std::getenv(env.c_str());
    if (value == nullptr || *value == '\0') {
      return absl::FailedPreconditionError(what + ": environment variable " + env + " is not set");
    }
    return std::string(absl::StripAsciiWhitespace(value));
  }
  if (!file.empty()) {
    auto bytes = ReadWhole(file, 1u << 20);
    if (!bytes.ok())
      return absl::FailedPreconditionError(absl::StrCat(what, ": ", bytes.status().message()));
    return std::string(absl::StripAsciiWhitespace(*bytes));
  }
  return std::string();
}

absl::StatusOr<std::string> FetchHttp(const Provider& p, const std::string& path) {
  std::string url = p.url;
  if (!url.ends_with("/")) url += "/";
  url += path;
  auto auth = FromEnvOrFile(p.auth_header_env, p.auth_header_file,
                            "the Authorization header of provider " + p.name);
  if (!auth.ok()) return auth.status();
  blob::CurlClient client(5000, 120000, p.url);
  blob::CurlClient::Request request{.method = "GET", .url = url};
  if (!auth->empty()) request.headers.push_back("Authorization: " + *auth);
  auto response = client.Perform(request);
  if (!response.ok()) return response.status();
  const long code = response->http_status;
  if (code == 200) {
    if (response->body.size() > kMaxArtifactBytes) {
      return absl::InvalidArgumentError(url + " is larger than 64 MiB");
    }
    return std::move(response->body);
  }
  const std::string why = absl::StrCat("GET ", url, ": HTTP ", code);
  if (code == 401 || code == 403) {
    return absl::PermissionDeniedError(
        why + (auth->empty() ? " (no auth header configured)" : " (the auth header was refused)"));
  }
  if (code == 404) return absl::NotFoundError(why);
  return absl::UnavailableError(why);
}

absl::StatusOr<std::string> FetchStore(const Provider& p, const std::string& path) {
  absl::StatusOr<std::unique_ptr<blob::BlobStore>> store;
  if (p.type == "gcs") {
    auto config = blob::GcsConfigFromUri(p.url);
    if (!config.ok()) return config.status();
    auto key = FromEnvOrFile(p.credentials_env, p.credentials_file,
                             "the credentials of provider " + p.name);
    if (!key.ok()) return key.status();
    config->credentials_json = *key;
    auto gcs = blob::GcsBlobStore::Create(*std::move(config));
    if (!gcs.ok()) return gcs.status();
    store = std::unique_ptr<blob::BlobStore>(*std::move(gcs));
  } else {
    store = blob::OpenBlobStore(p.url);
  }
  if (!store.ok()) return store.status();
  return (*store)->Get(path);
}

// Reads an archive from memory: its optimus-plugin-*.yaml regular files, by base name.
absl::StatusOr<std::map<std::string, std::string>> ReadArchive(const std::string& name,
                                                               const std::string& bytes) {
  std::unique_ptr<archive, decltype(&archive_read_free)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_gzip(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_zip(a.get());
  if (archive_read_open_memory(a.get(), bytes.data(), bytes.size()) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(
        name + " is not a readable archive: " + archive_error_string(a.get()));
  }
  std::map<std::string, std::string> files;
  archive_entry* entry = nullptr;
  size_t entries = 0;
  for (;;) {
    const int r = archive_read_next_header(a.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) {
      return absl::InvalidArgumentError(
          name + " is corrupt: " + std::string(archive_error_string(a.get())));
    }
    if (++entries > kMaxArchiveEntries) {
      return absl::InvalidArgumentError(name + " has more than 10000 entries");
    }
    const char* raw = archive_entry_pathname(entry);
    const std::string path = raw == nullptr ? "" : raw;
    if (ClimbsOut(path)) {
      return absl::InvalidArgumentError(name + ": entry \"" + path +
                                        "\" is absolute or climbs out of the archive with ..");
    }
    const auto type = archive_entry_filetype(entry);
    if (type == AE_IFDIR) continue;
    if (type != AE_IFREG || archive_entry_hardlink(entry) != nullptr) {
      return absl::InvalidArgumentError(name + ": entry \"" + path +
                                        "\" is not a regular file (links are refused)");
    }
    const std::string base = fs::path(path).filename().string();
    if (!base.starts_with("optimus-plugin-") || !base.ends_with(".yaml")) continue;
    if (archive_entry_size_is_set(entry) &&
        archive_entry_size(entry) > static_cast<la_int64_t>(kMaxPluginBytes)) {
      return absl::InvalidArgumentError(name + ": entry \"" + path + "\" is larger than 4 MiB");
    }
    std::string content;
    char buffer[16384];
    for (;;) {
      const la_ssize_t n = archive_read_data(a.get(), buffer, sizeof buffer);
      if (n < 0) {
        return absl::InvalidArgumentError(name + ": entry \"" + path +
                                          "\" does not read: " + archive_error_string(a.get()));
      }
      if (n == 0) break;
      content.append(buffer, static_cast<size_t>(n));
      if (content.size() > kMaxPluginBytes) {
        return absl::InvalidArgumentError(name + ": entry \"" + path + "\" is larger than 4 MiB");
      }
    }
    if (!files.emplace(base, std::move(content)).second) {
      return absl::InvalidArgumentError(name + " holds " + base + " twice");
    }
  }
  return files;
}

absl::Status WriteFile(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return absl::InternalError("cannot write " + path.string());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<InstallPlan> ParseInstallPlan(const std::string& providers_yaml,
                                             const std::string& plugins_yaml) {
  InstallPlan plan;
  YAML::Node providers, plugins;
  try {
    providers = providers_yaml.empty() ? YAML::Node() : YAML::Load(providers_yaml);
    plugins = plugins_yaml.empty() ? YAML::Node() : YAML::Load(plugins_yaml);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(std::string("plugins config is not YAML: ") + e.what());
  }
  if (providers && !providers.IsNull() && !providers.IsSequence()) {
    return absl::InvalidArgumentError("plugins.providers must be a list");
  }
  if (plugins && !plugins.IsNull() && !plugins.IsSequence()) {
    return absl::InvalidArgumentError("plugins.plugins must be a list");
  }
  std::set<std::string> names;
  for (size_t i = 0; providers && providers.IsSequence() && i < providers.size(); ++i) {
    const YAML::Node item = providers[i];
    const std::string where = absl::StrCat("plugins.providers[", i, "]");
    if (!item.IsMap()) return absl::InvalidArgumentError(where + " must be a map");
    for (const auto& kv : item) {
      const std::string key = kv.first.as<std::string>();
      static const std::set<std::string> kKnown = {"name",
                                                   "type",
                                                   "url",
                                                   "auth_header_env",
                                                   "auth_header_file",
                                                   "credentials_env",
                                                   "credentials_file",
                                                   "path"};
      if (!kKnown.contains(key)) {
        return absl::InvalidArgumentError(where + ": unknown field " + key +
                                          " (name, type, url, auth_header_env, auth_header_file, "
                                          "credentials_env, credentials_file)");
      }
    }
    Provider p{.name = Scalar(item, "name"),
               .type = absl::AsciiStrToLower(Scalar(item, "type")),
               .url = Scalar(item, "url"),
               .auth_header_env = Scalar(item, "auth_header_env"),
               .auth_header_file = Scalar(item, "auth_header_file"),
               .credentials_env = Scalar(item, "credentials_env"),
               .credentials_file = Scalar(item, "credentials_file")};
    if (p.url.empty()) p.url = Scalar(item, "path");  // a local provider's folder
    if (p.name.empty()) return absl::InvalidArgumentError(where + ".name is required");
    if (!names.insert(p.name).second) {
      return absl::InvalidArgumentError(where + ": provider " + p.name + " is listed twice");
    }
    if (p.url.empty()) return absl::InvalidArgumentError(where + ".url is required");
    if (p.type == "http" || p.type == "https") {
      if (!p.url.starts_with("http://") && !p.url.starts_with("https://")) {
        return absl::InvalidArgumentError(where + ".url must start with http:// or https://");
      }
    } else if (p.type == "s3") {
      if (!p.url.starts_with("s3://")) {
        return absl::InvalidArgumentError(where + ".url must be s3://bucket[/prefix]");
      }
    } else if (p.type == "gcs") {
      if (!p.url.starts_with("gs://")) {
        return absl::InvalidArgumentError(where + ".url must be gs://bucket[/prefix]");
      }
    } else if (p.type == "local") {
      if (!p.url.starts_with("/")) {
        return absl::InvalidArgumentError(where + ".url must be an absolute folder");
      }
    } else {
      return absl::InvalidArgumentError(
          where + ".type must be http, https, s3, gcs or local, got \"" + p.type + "\"");
    }
    plan.providers.push_back(std::move(p));
  }
  for (size_t i = 0; plugins && plugins.IsSequence() && i < plugins.size(); ++i) {
    const YAML::Node item = plugins[i];
    const std::string where = absl::StrCat("plugins.plugins[", i, "]");
    if (!item.IsMap()) return absl::InvalidArgumentError(where + " must be a map");
    Artifact a{.provider = Scalar(item, "provider"),
               .path = Scalar(item, "path"),
               .sha256 = absl::AsciiStrToLower(Scalar(item, "sha256"))};
    if (!names.contains(a.provider)) {
      return absl::InvalidArgumentError(where + ".provider \"" + a.provider +
                                        "\" is not in plugins.providers");
    }
    if (ClimbsOut(a.path)) {
      return absl::InvalidArgumentError(where + ".path \"" + a.path +
                                        "\" must be relative, without ..");
    }
    if (!a.sha256.empty() && !IsHex64(a.sha256)) {
      return absl::InvalidArgumentError(where + ".sha256 must be 64 hex digits");
    }
    plan.artifacts.push_back(std::move(a));
  }
  return plan;
}

absl::StatusOr<InstallPlan> ReadInstallConfig(const fs::path& file, std::string* install_dir) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError("cannot read " + file.string() + ": " + e.what());
  }
  const YAML::Node plugins = root.IsMap() ? root["plugins"] : YAML::Node();
  if (!plugins || !plugins.IsMap()) {
    return absl::InvalidArgumentError(file.string() + " has no plugins: section");
  }
  auto text = [](const YAML::Node& node) {
    if (!node) return std::string();
    YAML::Emitter out;
    out << YAML::Flow << node;
    return std::string(out.c_str());
  };
  if (plugins["install_dir"] && plugins["install_dir"].IsScalar()) {
    *install_dir = plugins["install_dir"].as<std::string>();
  }
  return ParseInstallPlan(text(plugins["providers"]), text(plugins["plugins"]));
}

absl::StatusOr<std::string> FetchArtifact(const Provider& provider, const std::string& path) {
  absl::StatusOr<std::string> bytes;
  if (provider.type == "http" || provider.type == "https") {
    bytes = FetchHttp(provider, path);
  } else if (provider.type == "s3" || provider.type == "gcs") {
    bytes = FetchStore(provider, path);
  } else {
    bytes = ReadWhole(fs::path(provider.url) / path, kMaxArtifactBytes);
  }
  if (!bytes.ok()) {
    return absl::Status(bytes.status().code(),
                        absl::StrCat("fetching ", path, " from provider ", provider.name, ": ",
                                     bytes.status().message()));
  }
  return bytes;
}

absl::StatusOr<std::map<std::string, std::string>> PluginFilesOf(const std::string& path,
                                                                 const std::string& bytes) {
  const std::string base = fs::path(path).filename().string();
  if (base.ends_with(".yaml") || base.ends_with(".yml")) {
    if (bytes.size() > kMaxPluginBytes) {
      return absl::InvalidArgumentError(path + " is larger than 4 MiB");
    }
    return std::map<std::string, std::string>{{base, bytes}};
  }
  if (base.ends_with(".tar.gz") || base.ends_with(".tgz") || base.ends_with(".zip")) {
    return ReadArchive(path, bytes);
  }
  return absl::InvalidArgumentError(path +
                                    " is neither a .yaml plugin file nor a .tar.gz or .zip "
                                    "archive of them");
}

absl::StatusOr<InstalledSet> Install(const InstallPlan& plan, const fs::path& install_dir,
                                     const Fetcher& fetch) {
  std::map<std::string, const Provider*> providers;
  for (const Provider& p : plan.providers) providers[p.name] = &p;
  std::map<std::string, std::string> contents;  // file -> content
  InstalledSet set;
  std::map<std::string, std::string> seen;  // plugin name -> source
  for (const Artifact& artifact : plan.artifacts) {
    const std::string source = artifact.provider + ":" + artifact.path;
    auto fail = [&](const absl::Status& s) {
      return absl::Status(s.code(), absl::StrCat("plugin artifact ", source, ": ", s.message()));
    };
    auto provider = providers.find(artifact.provider);
    if (provider == providers.end()) return fail(absl::InvalidArgumentError("unknown provider"));
    auto bytes = fetch(*provider->second, artifact.path);
    if (!bytes.ok()) return fail(bytes.status());
    const std::string digest = pipeline::Sha256Hex(*bytes);
    if (!artifact.sha256.empty() && digest != artifact.sha256) {
      return fail(
          absl::DataLossError("sha256 is " + digest + ", the config says " + artifact.sha256));
    }
    auto files = PluginFilesOf(artifact.path, *bytes);
    if (!files.ok()) return fail(files.status());
    if (files->empty()) {
      return fail(absl::InvalidArgumentError("holds no optimus-plugin-*.yaml file"));
    }
    for (const auto& [file, content] : *files) {
      spec::Diagnostics diagnostics;
      auto spec = spec::LoadPluginSpec(file, content, diagnostics);
      if (!spec || diagnostics.HasErrors()) {
        return fail(absl::InvalidArgumentError("invalid plugin:\n" + diagnostics.ToString()));
      }
      if (auto was = seen.find(spec->name); was != seen.end()) {
        return fail(
            absl::InvalidArgumentError("plugin " + spec->name + " is also in " + was->second));
      }
      seen[spec->name] = source;
      const std::string name = "optimus-plugin-" + spec->name + ".yaml";
      set.plugins.push_back({.name = spec->name,
                             .file = name,
                             .sha256 = pipeline::Sha256Hex(content),
                             .source = source});
      contents[name] = content;
    }
  }
  std::string all;
  for (const auto& [file, content] : contents) {
    absl::StrAppend(&all, file, "\n", pipeline::Sha256Hex(content), "\n");
  }
  set.digest = pipeline::Sha256Hex(all);
  std::error_code ec;
  const fs::path sets = install_dir / "sets";
  fs::create_directories(sets, ec);
  if (ec) return absl::InternalError("cannot create " + sets.string() + ": " + ec.message());
  set.dir = sets / set.digest;
  if (!fs::exists(set.dir / kManifest)) {
    const fs::path staging = sets / absl::StrCat(".staging-", set.digest, "-", ::getpid());
    fs::remove_all(staging, ec);
    fs::create_directories(staging, ec);
    if (ec) return absl::InternalError("cannot create " + staging.string() + ": " + ec.message());
    nlohmann::json manifest = nlohmann::json::array();
    for (const InstalledPlugin& p : set.plugins) {
      if (absl::Status s = WriteFile(staging / p.file, contents[p.file]); !s.ok()) return s;
      manifest.push_back(
          {{"name", p.name}, {"file", p.file}, {"sha256", p.sha256}, {"source", p.source}});
    }
    if (absl::Status s = WriteFile(staging / kManifest, manifest.dump(2)); !s.ok()) return s;
    fs::remove_all(set.dir, ec);
    fs::rename(staging, set.dir, ec);
    if (ec) return absl::InternalError("cannot move the plugin set into place: " + ec.message());
  }
  // The switch: a new link renamed over the old one, which is atomic.
  const fs::path link = install_dir / "current";
  const fs::path next = install_dir / absl::StrCat(".current-", ::getpid());
  fs::remove(next, ec);
  fs::create_directory_symlink(fs::path("sets") / set.digest, next, ec);
  if (ec) return absl::InternalError("cannot link the plugin set: " + ec.message());
  fs::rename(next, link, ec);
  if (ec) return absl::InternalError("cannot switch to the plugin set: " + ec.message());
  return set;
}

absl::StatusOr<fs::path> CurrentSet(const fs::path& install_dir) {
  std::error_code ec;
  const fs::path link = install_dir / "current";
  const fs::path target = fs::read_symlink(link, ec);
  if (ec) return absl::NotFoundError("no plugin set installed in " + install_dir.string());
  const fs::path dir = install_dir / target;
  if (!fs::is_directory(dir)) return absl::NotFoundError(link.string() + " points nowhere");
  return dir;
}

absl::StatusOr<PluginArchive> ArchivePluginFiles(const std::vector<fs::path>& dirs) {
  PluginArchive out;
  for (const fs::path& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.starts_with("optimus-plugin-") && name.ends_with(".yaml")) {
        files.push_back(entry.path());
      }
    }
    for (const fs::path& file : files) {
      const std::string name = file.filename().string();
      if (out.files.contains(name)) continue;  // the first folder wins
      auto bytes = ReadWhole(file, kMaxPluginBytes);
      if (!bytes.ok()) return bytes.status();
      out.files[name] = *std::move(bytes);
    }
  }
  std::string all;
  for (const auto& [file, content] : out.files) {
    absl::StrAppend(&all, file, "\n", pipeline::Sha256Hex(content), "\n");
  }
  out.sha256 = pipeline::Sha256Hex(all);
  std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(),
                                                            archive_write_free);
  archive_write_add_filter_gzip(a.get());
  archive_write_set_options(a.get(), "gzip:!timestamp");
  archive_write_set_format_pax_restricted(a.get());
  // Every entry takes its content plus at most a few headers of 512 bytes: room for all.
  size_t room = 64u << 10;
  for (const auto& [file, content] : out.files) room += content.size() + 4096;
  std::string buffer(room, '\0');
  size_t used = 0;
  if (archive_write_open_memory(a.get(), buffer.data(), buffer.size(), &used) != ARCHIVE_OK) {
    return absl::InternalError(std::string("cannot write the plugin archive: ") +
                               archive_error_string(a.get()));
  }
  for (const auto& [file, content] : out.files) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                    archive_entry_free);
    archive_entry_set_pathname(e.get(), file.c_str());
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_mtime(e.get(), 0, 0);
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
        archive_write_data(a.get(), content.data(), content.size()) < 0) {
      return absl::InternalError(std::string("cannot write the plugin archive: ") +
                                 archive_error_string(a.get()));
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return absl::InternalError(std::string("cannot write the plugin archive: ") +
                               archive_error_string(a.get()));
  }
  buffer.resize(used);
  out.bytes = std::move(buffer);
  return out;
}

}  // namespace optimus::plugin_manager
