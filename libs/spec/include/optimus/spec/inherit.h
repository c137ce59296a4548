// this.yaml inheritance (reference §3.7), with the fixes described in docs/spec-formats.md.
#pragma once

#include "optimus/spec/model.h"

namespace optimus::spec {

// Fills what `child` leaves unset from `parent`. Call once per this.yaml, nearest first: a
// value set by the child or a nearer parent wins. Unlike Optimus, an explicit `false` in the
// child stays false, and a parent's block the child lacks is simply copied in.
void InheritFrom(JobSpec& child, const JobSpec& parent);

}  // namespace optimus::spec
