// Optimus-compatible change events (`OptimusChangeEvent` on optimus.changes): a job created,
// updated (with the impact of the change) or deleted, carrying Optimus's JobSpecification.
#pragma once

#include <string>

#include "optimus/bus/message.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/integration/v1beta1/event.pb.h"
#include "optimus/integration/v1beta1/job_spec.pb.h"
#include "optimus/spec/model.h"

namespace optimus::pipeline {

inline constexpr char kChangesTopic[] = "optimus.changes";

using OptimusJobSpecification = ::gotocompany::optimus::core::v1beta1::JobSpecification;
using OptimusChangeEvent = ::gotocompany::optimus::integration::v1beta1::OptimusChangeEvent;
using ChangeImpact = ::gotocompany::optimus::integration::v1beta1::ChangeImpact;

// Optimus's JobSpecification of a job spec: schedule, window in the spec version's fields,
// task config, hooks, dependencies, behaviour, metadata, labels and `assets` (file name ->
// content).
OptimusJobSpecification ToOptimusJobSpecification(const spec::JobSpec& job,
                                                  const spec::StringMap& assets);

// The assets a spec record carries inline, by name. Assets kept in the object store (over
// 256 KiB) are left out: an event that large would not fit a Kafka message.
spec::StringMap InlineAssets(const events::v1::JobSpecRecord& record);

// BEHAVIOUR when what the job's runs see changed (Optimus's rule): the schedule's interval,
// the window, the task's name, version, config or alerts, or any asset; INTERNAL otherwise
// (owner, description, labels, hooks, dependencies, behaviour...).
ChangeImpact ImpactOf(const spec::JobSpec& before, const spec::StringMap& before_assets,
                      const spec::JobSpec& after, const spec::StringMap& after_assets);

// The record for optimus.changes (key: project/job, so one job's events stay in order).
// `job` may be null when the spec does not load: the event then names the job only.
bus::OutgoingMessage JobChangeRecord(OptimusChangeEvent::EventType type, const std::string& project,
                                     const std::string& namespace_name, const std::string& name,
                                     const spec::JobSpec* job, const spec::StringMap& assets,
                                     ChangeImpact impact);

}  // namespace optimus::pipeline
