// The spec of a stored job record, parsed once per process and shared.
//
// In `optimus serve` the dependency-resolver, the compiler and runtime-context each read every
// job record a deploy carries, with the same path and text; parsing it in each of them was a
// fifth of a deploy's CPU. A record's text never changes (a new version is a new text), so the
// first reader's parse serves the others.
#pragma once

#include <memory>
#include <string>

#include "optimus/spec/diagnostics.h"
#include "optimus/spec/model.h"

namespace optimus::spec {

// LoadJobSpec of a stored text: null when it does not load or has errors (they are appended to
// `diagnostics`). Only texts that load without errors are kept, and one comes back from the
// cache without the warnings of its first parse: callers of stored records check errors only.
// The cache holds at most about 64 MiB of texts; the least recently used half goes first. The
// specs come without field locations (JobSpec::LocationOf gives the file).
std::shared_ptr<const JobSpec> LoadStoredJobSpec(const std::string& path,
                                                 const std::string& content,
                                                 Diagnostics& diagnostics);

// How many texts the cache holds now (for tests).
size_t StoredJobSpecsCached();

}  // namespace optimus::spec
