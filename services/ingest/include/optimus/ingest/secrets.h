// Secrets of projects and namespaces: ingest is their store of record. A value arrives base64,
// is sealed with the app key (libs/secrets) and stored sealed, with its record on the compacted
// optimus.secrets topic (for runtime-context) in the same transaction. No call returns a value.
#pragma once

#include <optional>

#include "optimus/core/v1/secret.grpc.pb.h"
#include "optimus/rpc/http_server.h"
#include "optimus/secrets/secret_box.h"
#include "optimus/store/database.h"
#include "optimus/store/migrations.h"
#include "optimus/store/outbox.h"

namespace optimus::ingest {

class SecretsApi final : public core::v1::SecretService::Service {
 public:
  // Without a box (no app key configured) every call is refused with that reason. gRPC calls
  // need a token of their project (or an admin one) when `authenticator` is set.
  SecretsApi(store::Database& db, const store::Outbox& outbox,
             std::optional<secrets::SecretBox> box,
             const rpc::Authenticator* authenticator = nullptr);

  grpc::Status RegisterSecret(grpc::ServerContext* context,
                              const core::v1::RegisterSecretRequest* req,
                              core::v1::RegisterSecretResponse*) override;
  grpc::Status UpdateSecret(grpc::ServerContext* context, const core::v1::UpdateSecretRequest* req,
                            core::v1::UpdateSecretResponse*) override;
  grpc::Status ListSecrets(grpc::ServerContext* context, const core::v1::ListSecretsRequest* req,
                           core::v1::ListSecretsResponse* resp) override;
  grpc::Status DeleteSecret(grpc::ServerContext* context, const core::v1::DeleteSecretRequest* req,
                            core::v1::DeleteSecretResponse*) override;

  // Creates (`create`) or updates a secret: AlreadyExists / NotFound by Optimus's rules.
  absl::Status Save(const std::string& project, const std::string& name,
                    const std::string& base64_value, const std::string& namespace_name,
                    bool create);
  absl::StatusOr<core::v1::ListSecretsResponse> List(const std::string& project);
  absl::Status Delete(const std::string& project, const std::string& name,
                      const std::string& namespace_name);

 private:
  absl::Status Ready() const;

  store::Database& db_;
  const store::Outbox& outbox_;
  std::optional<secrets::SecretBox> box_;
  const rpc::Authenticator* authenticator_;
};

// Optimus's REST paths for secrets, answered by `api`.
void AddSecretRoutes(rpc::HttpServer& http, SecretsApi& api);

// ingest's secrets table.
store::Migration SecretsMigration();

}  // namespace optimus::ingest
