// Appending a hook to job.yaml text; the result is re-read by the caller before it is written.
#include "job_text.h"

#include <vector>

#include "optimus/spec/diagnostics.h"
#include "optimus/spec/loaders.h"
#include "optimus/spec/yaml_text.h"

namespace optimus::cli {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

int Indent(const std::string& line) {
  const size_t n = line.find_first_not_of(' ');
  return n == std::string::npos ? -1 : static_cast<int>(n);
}

bool BlankOrComment(const std::string& line) {
  const int indent = Indent(line);
  return indent < 0 || line[static_cast<size_t>(indent)] == '#';
}

}  // namespace

std::string HookItemText(const spec::Hook& hook, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  std::string out = pad + "- name: " + spec::YamlScalar(hook.name) + "\n";
  if (!hook.version.empty()) out += pad + "  version: " + spec::YamlScalar(hook.version) + "\n";
  if (!hook.config.empty()) {
    out += pad + "  config:\n";
    for (const auto& [key, value] : hook.config) {
      out += pad + "    " + spec::YamlScalar(key) + ": " + spec::YamlScalar(value) + "\n";
    }
  }
  return out;
}

std::optional<std::string> AppendHookText(const std::string& text, const spec::Hook& hook,
                                          std::string& error) {
  spec::Diagnostics diagnostics;
  auto job = spec::LoadJobSpec("job.yaml", text, diagnostics);
  if (!job) {
    error = "job.yaml does not load: " + diagnostics.ToString();
    return std::nullopt;
  }
  std::vector<std::string> lines = Lines(text);
  // Where the top-level key `hooks:` is written.
  int key_line = -1;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind("hooks:", 0) == 0) key_line = static_cast<int>(i);
  }
  if (key_line < 0) {
    std::string out = text;
    if (!out.empty() && out.back() != '\n') out += "\n";
    return out + "hooks:\n" + HookItemText(hook, 0);
  }
  std::string rest = lines[static_cast<size_t>(key_line)].substr(6);
  if (const size_t hash = rest.find(" #"); hash != std::string::npos) rest = rest.substr(0, hash);
  rest.erase(0, rest.find_first_not_of(' '));
  while (!rest.empty() && rest.back() == ' ') rest.pop_back();
  if (rest == "[]" || rest == "~" || rest == "null") {
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      out += static_cast<int>(i) == key_line ? "hooks:\n" + HookItemText(hook, 0) : lines[i] + "\n";
    }
    return out;
  }
  if (!rest.empty()) {
    error = "hooks is written on one line (flow style); write it as a block list to add a hook";
    return std::nullopt;
  }
  // A block list: its items start with "-" at one indentation; the list ends at the first
  // line that is neither blank, a comment, deeper, nor another item.
  int item_indent = -1;
  size_t end = static_cast<size_t>(key_line) + 1;
  for (size_t i = end; i < lines.size(); ++i) {
    if (BlankOrComment(lines[i])) continue;
    const int indent = Indent(lines[i]);
    if (item_indent < 0) {
      if (lines[i][static_cast<size_t>(indent)] != '-') break;
      item_indent = indent;
    }
    const bool item = indent == item_indent && lines[i][static_cast<size_t>(indent)] == '-';
    if (indent < item_indent || (indent == item_indent && !item)) break;
    end = i + 1;
  }
  if (item_indent < 0) item_indent = 0;
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i == end) out += HookItemText(hook, item_indent);
    out += lines[i] + "\n";
  }
  if (end >= lines.size()) out += HookItemText(hook, item_indent);
  return out;
}

}  // namespace optimus::cli
