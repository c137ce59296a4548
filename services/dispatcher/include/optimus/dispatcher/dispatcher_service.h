// optimus-dispatcher: the execution plane's controller. It owns executions, executors and the
// task catalog; executors dial in (ExecutorService) to claim and report; people and CI queue and
// follow runs (ExecutionService, CatalogService, ExecutorAdminService and REST).
#pragma once

#include <grpcpp/impl/service_type.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "optimus/app/component.h"
#include "optimus/dispatcher/airflow_replays.h"
#include "optimus/dispatcher/dispatcher.h"
#include "optimus/dispatcher/replays.h"
#include "optimus/dispatcher/scheduler.h"

namespace optimus::pipeline {
class ConsumerWorker;
}  // namespace optimus::pipeline

namespace optimus::dispatcher {

inline constexpr int kDispatcherHttpPort = 8086;
inline constexpr int kDispatcherGrpcPort = 9106;
inline constexpr char kDispatcherUsage[] =
    "optimus-dispatcher: queues executions of deployed jobs and catalog tasks and hands them to "
    "executors (optimus-executor) that dial in, with leases, fencing and logs.";

class DispatcherService : public app::Component {
 public:
  DispatcherService();
  ~DispatcherService() override;
  std::string name() const override { return "dispatcher"; }
  config::Schema ConfigSchema() const override;
  std::map<std::string, rpc::Access, std::less<>> AccessRules() const override;
  std::vector<store::Migration> Migrations() const override { return Dispatcher::Migrations(); }
  absl::Status Start(app::Context& context) override;
  void Stop() override;

  Dispatcher* dispatcher() { return dispatcher_.get(); }
  Scheduler* scheduler() { return scheduler_.get(); }
  Replays* replays() { return replays_.get(); }

 private:
  std::unique_ptr<Dispatcher> dispatcher_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<pipeline::ConsumerWorker> worker_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<Replays> replays_;
  std::unique_ptr<AirflowReplays> airflow_replays_;
  std::atomic<bool> scheduler_active_{false};
  std::jthread reaper_;
  std::jthread listener_;
  std::jthread ticker_;
  std::jthread airflow_thread_;
};

}  // namespace optimus::dispatcher
