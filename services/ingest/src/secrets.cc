// Secrets: stored sealed in ingest's table and published sealed on optimus.secrets.
#include "optimus/ingest/secrets.h"

#include "absl/strings/escaping.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "optimus/events/v1/secrets.pb.h"
#include "optimus/ingest/projects.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/rpc/grpc_server.h"
#include "optimus/rpc/status.h"

namespace optimus::ingest {
namespace {

std::string Scope(const std::string& project, const std::string& namespace_name) {
  return namespace_name.empty() ? "project " + project
                                : "namespace " + namespace_name + " of project " + project;
}

}  // namespace

store::Migration SecretsMigration() {
  return {5, "secrets",
          "CREATE TABLE secrets (project TEXT NOT NULL, name TEXT NOT NULL, namespace TEXT NOT "
          "NULL, sealed ${BLOB} NOT NULL, digest TEXT NOT NULL, updated_at_ms BIGINT NOT NULL, "
          "PRIMARY KEY (project, name))"};
}

SecretsApi::SecretsApi(store::Database& db, const store::Outbox& outbox,
                       std::optional<secrets::SecretBox> box,
                       const rpc::Authenticator* authenticator)
    : db_(db), outbox_(outbox), box_(std::move(box)), authenticator_(authenticator) {}

absl::Status SecretsApi::Ready() const {
  if (box_) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "secrets are off on this server: set secrets.app_key (at least 32 characters, the same on "
      "ingest and runtime-context)");
}

absl::Status SecretsApi::Save(const std::string& project, const std::string& raw_name,
                              const std::string& base64_value, const std::string& namespace_name,
                              bool create) {
  if (absl::Status s = Ready(); !s.ok()) return s;
  auto name = secrets::NormalizeName(raw_name);
  if (!name.ok()) return name.status();
  std::string value;
  if (!absl::Base64Unescape(base64_value, &value)) {
    return absl::InvalidArgumentError("the value of secret " + *name + " is not base64");
  }
  if (value.empty()) return absl::InvalidArgumentError("secret " + *name + " needs a value");
  auto known = GetProject(db_, project);
  if (!known.ok()) return known.status();
  if (!namespace_name.empty()) {
    bool found = false;
    for (const auto& ns : known->namespaces()) found = found || ns.name() == namespace_name;
    if (!found) {
      return absl::NotFoundError("project " + project + " has no namespace " + namespace_name);
    }
  }
  auto sealed = box_->Seal(value);
  if (!sealed.ok()) return sealed.status();
  events::v1::SecretRecord record;
  record.set_project(project);
  record.set_namespace_(namespace_name);
  record.set_name(*name);
  record.set_sealed(*sealed);
  record.set_digest(secrets::Digest(*sealed));
  record.set_updated_at_ms(absl::ToUnixMillis(absl::Now()));
  return db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    auto row = tx.Execute("SELECT namespace FROM secrets WHERE project = $1 AND name = $2",
                          {project, *name});
    if (!row.ok()) return row.status();
    if (create && !row->rows.empty()) {
      return absl::AlreadyExistsError("secret " + *name + " already exists in project " + project +
                                      " (update it instead)");
    }
    if (!create && row->rows.empty()) {
      return absl::NotFoundError("no secret " + *name + " in project " + project +
                                 " to update (create it first)");
    }
    auto saved = tx.Execute(
        "INSERT INTO secrets (project, name, namespace, sealed, digest, updated_at_ms) VALUES "
        "($1, $2, $3, $4, $5, $6) ON CONFLICT (project, name) DO UPDATE SET namespace = "
        "excluded.namespace, sealed = excluded.sealed, digest = excluded.digest, updated_at_ms "
        "= excluded.updated_at_ms",
        {project, *name, namespace_name, store::Blob{record.sealed()}, record.digest(),
         record.updated_at_ms()});
    if (!saved.ok()) return saved.status();
    return outbox_.Enqueue(tx, pipeline::ProtoRecord(pipeline::kSecretsTopic,
                                                     pipeline::JobKey(project, *name), record));
  });
}

absl::StatusOr<core::v1::ListSecretsResponse> SecretsApi::List(const std::string& project) {
  auto rows = db_.Execute(
      "SELECT name, digest, namespace, updated_at_ms FROM secrets WHERE project = $1 ORDER BY "
      "name",
      {project});
  if (!rows.ok()) return rows.status();
  core::v1::ListSecretsResponse out;
  for (const auto& r : rows->rows) {
    auto* s = out.add_secrets();
    s->set_name(r.Text(0));
    s->set_digest(r.Text(1));
    s->set_namespace_(r.Text(2));
    s->set_updated_at(
        absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMillis(r.Int(3)), absl::UTCTimeZone()));
  }
  return out;
}

absl::Status SecretsApi::Delete(const std::string& project, const std::string& raw_name,
                                const std::string& namespace_name) {
  auto name = secrets::NormalizeName(raw_name);
  if (!name.ok()) return name.status();
  return db_.InTransaction([&](store::Transaction& tx) -> absl::Status {
    auto gone =
        tx.Execute("DELETE FROM secrets WHERE project = $1 AND name = $2 AND namespace = $3",
                   {project, *name, namespace_name});
    if (!gone.ok()) return gone.status();
    if (gone->affected_rows == 0) {
      return absl::NotFoundError("no secret " + *name + " in " + Scope(project, namespace_name));
    }
    return outbox_.Enqueue(
        tx, pipeline::Tombstone(pipeline::kSecretsTopic, pipeline::JobKey(project, *name),
                                "optimus.events.v1.SecretRecord"));
  });
}

grpc::Status SecretsApi::RegisterSecret(grpc::ServerContext* context,
                                        const core::v1::RegisterSecretRequest* req,
                                        core::v1::RegisterSecretResponse*) {
  if (grpc::Status allowed =
          rpc::Authorize(context, authenticator_, "optimus.core.v1.SecretService/RegisterSecret",
                         req->project_name());
      !allowed.ok()) {
    return allowed;
  }
  return rpc::ToGrpcStatus(
      Save(req->project_name(), req->secret_name(), req->value(), req->namespace_name(), true));
}

grpc::Status SecretsApi::UpdateSecret(grpc::ServerContext* context,
                                      const core::v1::UpdateSecretRequest* req,
                                      core::v1::UpdateSecretResponse*) {
  if (grpc::Status allowed =
          rpc::Authorize(context, authenticator_, "optimus.core.v1.SecretService/UpdateSecret",
                         req->project_name());
      !allowed.ok()) {
    return allowed;
  }
  return rpc::ToGrpcStatus(
      Save(req->project_name(), req->secret_name(), req->value(), req->namespace_name(), false));
}

grpc::Status SecretsApi::ListSecrets(grpc::ServerContext* context,
                                     const core::v1::ListSecretsRequest* req,
                                     core::v1::ListSecretsResponse* resp) {
  if (grpc::Status allowed =
          rpc::Authorize(context, authenticator_, "optimus.core.v1.SecretService/ListSecrets",
                         req->project_name());
      !allowed.ok()) {
    return allowed;
  }
  auto list = List(req->project_name());
  if (!list.ok()) return rpc::ToGrpcStatus(list.status());
  *resp = *std::move(list);
  return grpc::Status::OK;
}

grpc::Status SecretsApi::DeleteSecret(grpc::ServerContext* context,
                                      const core::v1::DeleteSecretRequest* req,
                                      core::v1::DeleteSecretResponse*) {
  if (grpc::Status allowed =
          rpc::Authorize(context, authenticator_, "optimus.core.v1.SecretService/DeleteSecret",
                         req->project_name());
      !allowed.ok()) {
    return allowed;
  }
  return rpc::ToGrpcStatus(Delete(req->project_name(), req->secret_name(), req->namespace_name()));
}

void AddSecretRoutes(rpc::HttpServer& http, SecretsApi& api) {
  using nlohmann::json;
  constexpr char kOne[] = "/api/v1beta1/project/{project_name}/secret/{secret_name}";
  auto save = [&api](bool create) {
    return [&api, create](const rpc::HttpRequest& request) {
      json body = json::parse(request.body().empty() ? "{}" : request.body(), nullptr, false);
      if (!body.is_object()) {
        return rpc::HttpResponse::Error(
            absl::InvalidArgumentError("the body is not a JSON object"));
      }
      auto text = [&body](const char* snake, const char* camel) -> std::string {
        for (const char* k : {snake, camel}) {
          if (body.contains(k) && body[k].is_string()) return body[k].get<std::string>();
        }
        return "";
      };
      absl::Status s =
          api.Save(request.PathParam("project_name"), request.PathParam("secret_name"),
                   text("value", "value"), text("namespace_name", "namespaceName"), create);
      if (!s.ok()) return rpc::HttpResponse::Error(s);
      return rpc::HttpResponse::Json("{}");
    };
  };
  http.Post(kOne, save(true));
  http.Put(kOne, save(false));
  http.Get("/api/v1beta1/project/{project_name}/secret", [&api](const rpc::HttpRequest& request) {
    auto list = api.List(request.PathParam("project_name"));
    if (!list.ok()) return rpc::HttpResponse::Error(list.status());
    json out = json::array();
    for (const auto& s : list->secrets()) {
      out.push_back({{"name", s.name()},
                     {"digest", s.digest()},
                     {"namespace", s.namespace_()},
                     {"updatedAt", s.updated_at()}});
    }
    return rpc::HttpResponse::Json(json{{"secrets", out}}.dump());
  });
  http.Delete(kOne, [&api](const rpc::HttpRequest& request) {
    absl::Status s = api.Delete(request.PathParam("project_name"), request.PathParam("secret_name"),
                                request.Query("namespace_name"));
    if (!s.ok()) return rpc::HttpResponse::Error(s);
    return rpc::HttpResponse::Json("{}");
  });
}

}  // namespace optimus::ingest
