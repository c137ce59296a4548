// The execution whose Job manifests are golden files (kubernetes_test, kube_manifests).
#pragma once

#include "google/protobuf/util/time_util.h"
#include "optimus/core/v1/dispatch.pb.h"
#include "optimus/executor/kubernetes_job.h"

namespace optimus::executor {

using Step = core::v1::ExecutionStep;

// A job execution with a pre hook, its task and a post hook, as the dispatcher plans it.
inline core::v1::Execution SampleExecution() {
  core::v1::Execution e;
  e.set_id("9c8e1f2a-3b4c-4d5e-8f90-a1b2c3d4e5f6");
  e.set_kind("job");
  e.set_project("sample-project");
  e.set_namespace_("sales");
  e.set_name("sample-project.sales_marts.daily_revenue");
  e.set_attempt(2);
  e.set_epoch(7);
  *e.mutable_scheduled_at() = google::protobuf::util::TimeUtil::SecondsToTimestamp(1709776800);
  auto* plan = e.mutable_plan();
  const auto step = [&](Step::Kind kind, const std::string& name, const std::string& image,
                        const std::string& script, const std::string& type) {
    Step* s = plan->add_steps();
    s->set_kind(kind);
    s->set_name(name);
    s->set_image(image);
    s->set_shell("/bin/sh");
    s->set_script(script);
    s->set_instance_type(type);
    (*s->mutable_env())["PROJECT"] = "sample-project";
    (*s->mutable_env())["JOB_NAME"] = e.name();
    (*s->mutable_env())["INSTANCE_TYPE"] = type;
    (*s->mutable_env())["INSTANCE_NAME"] = name;
  };
  step(Step::KIND_HOOK_PRE, "check", "busybox:1.36", "echo checking", "hook");
  step(Step::KIND_TASK, "bq2bq", "docker.io/goto/optimus-task-bq2bq-executor:0.3.6",
       "python3 /opt/bumblebee/main.py", "task");
  step(Step::KIND_HOOK_POST, "predator", "docker.io/goto/predator:0.4.0",
       "predator profile -u \"$PREDATOR_URL\" -b \"$BQ_TABLE\"", "hook");
  plan->set_timeout_seconds(3600);
  plan->set_cpu_request("250m");
  plan->set_memory_request("512Mi");
  plan->set_cpu_limit("1");
  plan->set_memory_limit("1Gi");
  plan->set_service_account("bq-runner");
  (*plan->mutable_labels())["team"] = "sales data";
  (*plan->mutable_labels())["orchestrator"] = "optimus";
  return e;
}

inline KubernetesJobOptions SampleOptions() {
  KubernetesJobOptions o;
  o.namespace_name = "optimus-jobs";
  o.input_image = "ghcr.io/example/optimus:0.1.0";
  o.dispatcher = "optimus-dispatcher.optimus:9106";
  o.credential_secret = "optimus-executor-credential";
  return o;
}

}  // namespace optimus::executor
