// Kubernetes API calls over libcurl (see kubernetes_api.h).
#include "optimus/executor/kubernetes_api.h"

#include <curl/curl.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "yaml-cpp/yaml.h"

namespace optimus::executor {
namespace {

size_t Collect(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes `pem` to a private temporary file for libcurl, which takes certificates by path.
std::string PemFile(const std::string& pem) {
  if (pem.empty()) return "";
  char path[] = "/tmp/optimus-kube-XXXXXX";
  const int fd = ::mkstemp(path);
  if (fd < 0) return "";
  (void)!::write(fd, pem.data(), pem.size());
  ::close(fd);
  return path;
}

std::string Base64(const std::string& text) {
  std::string out;
  absl::Base64Unescape(text, &out);
  return out;
}

std::string Escape(const std::string& text) {
  char* escaped = curl_easy_escape(nullptr, text.c_str(), static_cast<int>(text.size()));
  std::string out = escaped != nullptr ? escaped : "";
  curl_free(escaped);
  return out;
}

}  // namespace

absl::StatusOr<KubernetesCluster> InClusterConfig() {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  constexpr char kDir[] = "/var/run/secrets/kubernetes.io/serviceaccount/";
  if (host == nullptr || port == nullptr || ::access((std::string(kDir) + "token").c_str(), R_OK)) {
    return absl::NotFoundError(
        "not inside a Kubernetes pod (no KUBERNETES_SERVICE_HOST or service account token); "
        "give --kubeconfig");
  }
  KubernetesCluster c;
  const std::string h = host;
  c.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  c.token = ReadAll(std::string(kDir) + "token");
  c.ca_file = std::string(kDir) + "ca.crt";
  const std::string ns = ReadAll(std::string(kDir) + "namespace");
  if (!ns.empty()) c.namespace_name = ns;
  return c;
}

absl::StatusOr<KubernetesCluster> KubeconfigCluster(const std::string& path,
                                                    const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError("cannot read kubeconfig " + path + ": " + e.what());
  }
  const auto named = [&root](const char* list, const std::string& name) -> YAML::Node {
    for (const auto& item : root[list]) {
      if (item["name"] && item["name"].as<std::string>() == name) return item;
    }
    return YAML::Node();
  };
  const std::string wanted =
      !context.empty() ? context
                       : (root["current-context"] ? root["current-context"].as<std::string>() : "");
  const YAML::Node ctx = named("contexts", wanted);
  if (!ctx || !ctx["context"]) {
    return absl::InvalidArgumentError("kubeconfig " + path + " has no context \"" + wanted + "\"");
  }
  const YAML::Node cluster = named("clusters", ctx["context"]["cluster"].as<std::string>(""));
  const YAML::Node user = named("users", ctx["context"]["user"].as<std::string>(""));
  if (!cluster || !cluster["cluster"] || !cluster["cluster"]["server"]) {
    return absl::InvalidArgumentError("kubeconfig " + path + ": context " + wanted +
                                      " names no cluster with a server");
  }
  KubernetesCluster c;
  const YAML::Node cl = cluster["cluster"];
  c.server = cl["server"].as<std::string>();
  c.ca_file = cl["certificate-authority"].as<std::string>("");
  c.ca_pem = Base64(cl["certificate-authority-data"].as<std::string>(""));
  c.insecure = cl["insecure-skip-tls-verify"].as<bool>(false);
  if (user && user["user"]) {
    const YAML::Node u = user["user"];
    c.token = u["token"].as<std::string>("");
    if (c.token.empty() && u["tokenFile"]) c.token = ReadAll(u["tokenFile"].as<std::string>());
    c.client_cert_file = u["client-certificate"].as<std::string>("");
    c.client_key_file = u["client-key"].as<std::string>("");
    c.client_cert_pem = Base64(u["client-certificate-data"].as<std::string>(""));
    c.client_key_pem = Base64(u["client-key-data"].as<std::string>(""));
    if (u["exec"] && c.token.empty() && c.client_cert_pem.empty() && c.client_cert_file.empty()) {
      return absl::InvalidArgumentError(
          "kubeconfig " + path + ": user of context " + wanted +
          " authenticates with an exec plugin, which optimus-executor does not run; give it a "
          "token or a client certificate (or run the executor in the cluster)");
    }
  }
  if (ctx["context"]["namespace"]) c.namespace_name = ctx["context"]["namespace"].as<std::string>();
  return c;
}

KubernetesApi::KubernetesApi(KubernetesCluster cluster) : cluster_(std::move(cluster)) {
  ca_path_ = PemFile(cluster_.ca_pem);
  cert_path_ = PemFile(cluster_.client_cert_pem);
  key_path_ = PemFile(cluster_.client_key_pem);
}

KubernetesApi::~KubernetesApi() {
  for (const std::string& p : {ca_path_, cert_path_, key_path_}) {
    if (!p.empty()) ::unlink(p.c_str());
  }
}

absl::StatusOr<KubernetesApi::Reply> KubernetesApi::Call(const std::string& method,
                                                         const std::string& path,
                                                         const std::string& body) {
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  Reply reply;
  const std::string url = cluster_.server + path;
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Accept: application/json");
  if (!body.empty()) headers = curl_slist_append(headers, "Content-Type: application/json");
  const std::string auth = "Authorization: Bearer " + cluster_.token;
  if (!cluster_.token.empty()) headers = curl_slist_append(headers, auth.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 60000L);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  if (!body.empty()) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  const std::string ca = !ca_path_.empty() ? ca_path_ : cluster_.ca_file;
  if (!ca.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca.c_str());
  const std::string cert = !cert_path_.empty() ? cert_path_ : cluster_.client_cert_file;
  const std::string key = !key_path_.empty() ? key_path_ : cluster_.client_key_file;
  if (!cert.empty()) curl_easy_setopt(curl, CURLOPT_SSLCERT, cert.c_str());
  if (!key.empty()) curl_easy_setopt(curl, CURLOPT_SSLKEY, key.c_str());
  if (cluster_.insecure) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  const CURLcode rc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  if (rc != CURLE_OK) {
    return absl::UnavailableError("Kubernetes API " + cluster_.server +
                                  " unreachable: " + curl_easy_strerror(rc));
  }
  return reply;
}

absl::Status KubernetesApi::Error(const std::string& what, const Reply& reply) {
  auto status = nlohmann::json::parse(reply.body, nullptr, false);
  const std::string message = status.is_object() && status.contains("message")
                                  ? status["message"].get<std::string>()
                                  : reply.body.substr(0, 200);
  const std::string text = what + ": HTTP " + std::to_string(reply.code) + ": " + message;
  switch (reply.code) {
    case 401:
      return absl::UnauthenticatedError(text);
    case 403:
      return absl::PermissionDeniedError(text);
    case 404:
      return absl::NotFoundError(text);
    case 409:
      return absl::AlreadyExistsError(text);
    case 400:
    case 422:
      return absl::InvalidArgumentError(text);
    default:
      return absl::UnavailableError(text);
  }
}

absl::StatusOr<nlohmann::json> KubernetesApi::CreateJob(const nlohmann::json& job) {
  const std::string ns = job["metadata"].value("namespace", cluster_.namespace_name);
  auto reply = Call("POST", "/apis/batch/v1/namespaces/" + Escape(ns) + "/jobs", job.dump());
  if (!reply.ok()) return reply.status();
  if (reply->code != 201 && reply->code != 200) {
    return Error("creating Job " + job["metadata"].value("name", std::string()), *reply);
  }
  return nlohmann::json::parse(reply->body, nullptr, false);
}

absl::StatusOr<nlohmann::json> KubernetesApi::GetJob(const std::string& ns,
                                                     const std::string& name) {
  auto reply = Call("GET", "/apis/batch/v1/namespaces/" + Escape(ns) + "/jobs/" + Escape(name), "");
  if (!reply.ok()) return reply.status();
  if (reply->code != 200) return Error("reading Job " + name, *reply);
  auto job = nlohmann::json::parse(reply->body, nullptr, false);
  if (job.is_discarded()) return absl::UnavailableError("Job " + name + ": an answer not JSON");
  return job;
}

absl::Status KubernetesApi::DeleteJob(const std::string& ns, const std::string& name) {
  auto reply = Call("DELETE",
                    "/apis/batch/v1/namespaces/" + Escape(ns) + "/jobs/" + Escape(name) +
                        "?propagationPolicy=Background",
                    "");
  if (!reply.ok()) return reply.status();
  if (reply->code == 404 || reply->code == 200 || reply->code == 202) return absl::OkStatus();
  return Error("deleting Job " + name, *reply);
}

absl::StatusOr<std::vector<nlohmann::json>> KubernetesApi::Pods(const std::string& ns,
                                                                const std::string& selector) {
  auto reply = Call(
      "GET", "/api/v1/namespaces/" + Escape(ns) + "/pods?labelSelector=" + Escape(selector), "");
  if (!reply.ok()) return reply.status();
  if (reply->code != 200) return Error("listing Pods " + selector, *reply);
  auto list = nlohmann::json::parse(reply->body, nullptr, false);
  std::vector<nlohmann::json> out;
  if (list.is_object() && list.contains("items")) {
    for (const auto& item : list["items"]) out.push_back(item);
  }
  return out;
}

absl::StatusOr<std::string> KubernetesApi::Log(const std::string& ns, const std::string& pod,
                                               const std::string& container) {
  auto reply = Call("GET",
                    "/api/v1/namespaces/" + Escape(ns) + "/pods/" + Escape(pod) +
                        "/log?container=" + Escape(container),
                    "");
  if (!reply.ok()) return reply.status();
  if (reply->code == 400) return std::string();  // still waiting to start
  if (reply->code != 200) return Error("reading the log of " + pod, *reply);
  return reply->body;
}

}  // namespace optimus::executor
