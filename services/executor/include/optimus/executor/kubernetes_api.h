// The few Kubernetes API calls the Kubernetes runner makes (Jobs, their Pods, Pod logs), over
// HTTPS with libcurl, authenticated the way kubectl is: in-cluster (the service account's token
// and CA) or a kubeconfig (bearer token or client certificate).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace optimus::executor {

struct KubernetesCluster {
  std::string server;  // https://host:port
  std::string token;   // bearer token ("" for client certificates)
  std::string ca_file;
  std::string ca_pem;  // the CA given inline (certificate-authority-data)
  std::string client_cert_file, client_key_file;
  std::string client_cert_pem, client_key_pem;
  bool insecure = false;  // insecure-skip-tls-verify
  std::string namespace_name = "default";
};

// Inside a pod: KUBERNETES_SERVICE_HOST/PORT and /var/run/secrets/kubernetes.io/serviceaccount.
// NotFound outside a cluster.
absl::StatusOr<KubernetesCluster> InClusterConfig();

// A kubeconfig file's cluster and user of `context` ("": its current-context). InvalidArgument
// naming what is missing.
absl::StatusOr<KubernetesCluster> KubeconfigCluster(const std::string& path,
                                                    const std::string& context = "");

class KubernetesApi {
 public:
  explicit KubernetesApi(KubernetesCluster cluster);
  ~KubernetesApi();

  const KubernetesCluster& cluster() const { return cluster_; }

  // POST /apis/batch/v1/namespaces/{ns}/jobs; AlreadyExists when a Job of that name exists.
  absl::StatusOr<nlohmann::json> CreateJob(const nlohmann::json& job);
  // NotFound when it is gone.
  absl::StatusOr<nlohmann::json> GetJob(const std::string& ns, const std::string& name);
  // Deletes the Job and its Pods (propagationPolicy Background); a Job already gone is OK.
  absl::Status DeleteJob(const std::string& ns, const std::string& name);
  // The Pods whose labels match `selector` (k=v,k2=v2).
  absl::StatusOr<std::vector<nlohmann::json>> Pods(const std::string& ns,
                                                   const std::string& selector);
  // A container's log so far ("" while it has not started).
  absl::StatusOr<std::string> Log(const std::string& ns, const std::string& pod,
                                  const std::string& container);

 private:
  struct Reply {
    long code = 0;
    std::string body;
  };
  absl::StatusOr<Reply> Call(const std::string& method, const std::string& path,
                             const std::string& body);
  static absl::Status Error(const std::string& what, const Reply& reply);

  KubernetesCluster cluster_;
  std::string ca_path_, cert_path_, key_path_;  // inline PEMs written to private temp files
};

}  // namespace optimus::executor
