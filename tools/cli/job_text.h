// Editing job.yaml as text, so that a user's comments and layout survive `job addhook`.
#pragma once

#include <optional>
#include <string>

#include "optimus/spec/model.h"

namespace optimus::cli {

// The YAML lines of one hook list item, indented by `indent` spaces.
std::string HookItemText(const spec::Hook& hook, int indent);

// `text` (a job.yaml) with `hook` appended to its top-level `hooks:` list, created when missing.
// nullopt with `error` set when the list is written in a way this cannot extend safely.
std::optional<std::string> AppendHookText(const std::string& text, const spec::Hook& hook,
                                          std::string& error);

}  // namespace optimus::cli
