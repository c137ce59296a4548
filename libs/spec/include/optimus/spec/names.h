// Names of projects, namespaces, jobs and assets: the one rule set every edge checks (CLI
// validate, REST, gRPC). Names become keys ("project/job"), object paths and file names, so a
// name that could read as two, or climb out of its folder, is refused where it comes in.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace optimus::spec {

enum class NameKind { kProject, kNamespace, kJob };

// Why `name` cannot name a `kind`, or nullopt when it can: 1 to 200 characters (a job: 125) of
// letters, digits, '_', '-' and '.', beginning with a letter, a digit or '_', with no "..".
std::optional<std::string> NameProblem(NameKind kind, std::string_view name);

// Why `name` cannot name an asset, or nullopt when it can. An asset's name is a path relative to
// the job's assets folder: '/'-separated segments of 1 to 255 characters with no '\', NUL or
// other control character, none of them "." or "..", 1024 characters at most.
std::optional<std::string> AssetNameProblem(std::string_view name);

}  // namespace optimus::spec
