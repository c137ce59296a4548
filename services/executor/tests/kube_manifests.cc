// Writes the Job manifests of kubernetes_test's sample execution into a folder: the golden
// files, when regenerated for review, and what kubernetes_manifests_test validates.
//   kube_manifests DIR   -> DIR/kubernetes-task-job.json, DIR/kubernetes-post-hook-job.json,
//                           DIR/kubernetes-pre-hook-job.json
#include <cstdio>
#include <fstream>
#include <string>

#include "kubernetes_sample.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: kube_manifests DIR\n");
    return 2;
  }
  using namespace optimus::executor;
  const std::string dir = argv[1];
  const auto write = [&](const std::string& name, int step, int64_t deadline) {
    std::ofstream(dir + "/" + name)
        << StepJob(SampleExecution(), step, "optrun_0123abcd", deadline, SampleOptions()).dump(2)
        << "\n";
  };
  write("kubernetes-pre-hook-job.json", 0, 3600);
  write("kubernetes-task-job.json", 1, 3540);
  write("kubernetes-post-hook-job.json", 2, 0);
  return 0;
}
