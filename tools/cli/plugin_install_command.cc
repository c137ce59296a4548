// `optimus plugin install -c FILE [--install-dir DIR]`: the server's plugin installation, on its
// own (an init container fills a shared volume; the server then finds the set installed).
#include "plugin_install_command.h"

#include <string>

#include "optimus/plugin_manager/installer.h"

namespace optimus::cli {
namespace {

constexpr char kHelp[] =
    "Usage: optimus plugin install -c CONFIG [--install-dir DIR]\n\n"
    "Fetches the plugin artifacts the config's plugins: section names (plugins.providers and\n"
    "plugins.plugins, as the server reads them), checks every one (sha256, archive entries, each\n"
    "plugin file), and only then installs them as one set in DIR (default: the config's\n"
    "plugins.install_dir, else .plugins-installed): DIR/sets/<digest>/, with DIR/current\n"
    "pointing at it. On any failure the set installed before stays, and the exit code is 1.\n"
    "Exit code 0: installed, 1: an artifact failed, 2: bad flags or config.\n";

}  // namespace

int RunPluginInstallCommand(int argc, char** argv, std::ostream& out, std::ostream& err) {
  std::string config, install_dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      out << kHelp;
      return 0;
    } else if ((arg == "-c" || arg == "--config") && i + 1 < argc) {
      config = argv[++i];
    } else if (arg == "--install-dir" && i + 1 < argc) {
      install_dir = argv[++i];
    } else {
      err << "optimus plugin install: unknown flag " << arg << "\n" << kHelp;
      return 2;
    }
  }
  if (config.empty()) {
    err << "optimus plugin install: -c CONFIG is required\n" << kHelp;
    return 2;
  }
  std::string configured_dir;
  auto plan = plugin_manager::ReadInstallConfig(config, &configured_dir);
  if (!plan.ok()) {
    err << "optimus plugin install: " << plan.status().message() << "\n";
    return 2;
  }
  if (install_dir.empty())
    install_dir = configured_dir.empty() ? ".plugins-installed" : configured_dir;
  if (plan->empty()) {
    err << "optimus plugin install: " << config << " names no plugin artifact (plugins.plugins)\n";
    return 2;
  }
  auto set = plugin_manager::Install(*plan, install_dir);
  if (!set.ok()) {
    err << "optimus plugin install: " << set.status().message()
        << "\nnothing changed: the set installed before (if any) stays in " << install_dir
        << "/current\n";
    return 1;
  }
  for (const auto& p : set->plugins) {
    out << "  " << p.name << "  " << p.sha256.substr(0, 12) << "  from " << p.source << "\n";
  }
  out << "installed " << set->plugins.size() << " plugins from " << plan->artifacts.size()
      << " artifacts as set " << set->digest.substr(0, 12) << " in " << set->dir.string() << " ("
      << install_dir << "/current)\n";
  return 0;
}

}  // namespace optimus::cli
