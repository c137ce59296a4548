// Secrets on a real SQLite database: stored and published sealed, listed by digest, Optimus's
// create/update/delete rules, scopes checked, and off without an app key.
#include "optimus/ingest/secrets.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "optimus/events/v1/jobs.pb.h"
#include "optimus/events/v1/secrets.pb.h"
#include "optimus/ingest/ingest_service.h"
#include "optimus/ingest/projects.h"
#include "optimus/pipeline/pipeline.h"
#include "optimus/store/migrations.h"
#include "optimus/testing/testing.h"

namespace optimus::ingest {
namespace {

constexpr char kAppKey[] = "0123456789abcdef0123456789abcdef";

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = *store::OpenDatabase("sqlite:" + dir_.File("ingest.db"), "ingest");
    ASSERT_TRUE(store::ApplyMigrations(*db_, "store", store::CoreMigrations()).ok());
    ASSERT_TRUE(store::ApplyMigrations(*db_, "ingest", IngestService().Migrations()).ok());
    events::v1::ProjectRecord p;
    p.set_name("acme");
    p.add_namespaces()->set_name("finance");
    bus::Message m{pipeline::kProjectsTopic, "acme", p.SerializeAsString()};
    ASSERT_TRUE(
        db_->InTransaction([&](store::Transaction& tx) { return ApplyProjectRecord(tx, m); }).ok());
    api_ = std::make_unique<SecretsApi>(*db_, outbox_, *secrets::SecretBox::FromAppKey(kAppKey));
  }

  // The records enqueued for optimus.secrets, in order.
  std::vector<std::pair<std::string, std::string>> Published() {
    auto rows = db_->Execute(
        "SELECT msg_key, payload FROM outbox WHERE topic = 'optimus.secrets' ORDER BY id");
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& r : rows->rows) out.emplace_back(r.Text(0), r.Text(1));
    return out;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Database> db_;
  store::Outbox outbox_{"optimus/ingest"};
  std::unique_ptr<SecretsApi> api_;
};

TEST_F(SecretsTest, StoredAndPublishedSealedAndListedByDigest) {
  const std::string value = "p@ss'w\"ord";
  ASSERT_TRUE(api_->Save("acme", "bq_service_account", absl::Base64Escape(value), "", true).ok());
  auto published = Published();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].first, "acme/BQ_SERVICE_ACCOUNT");
  EXPECT_EQ(published[0].second.find(value), std::string::npos);  // never in the clear
  events::v1::SecretRecord record;
  ASSERT_TRUE(record.ParseFromString(published[0].second));
  EXPECT_EQ(*secrets::SecretBox::FromAppKey(kAppKey)->Open(record.sealed()), value);
  auto stored = db_->Execute("SELECT sealed FROM secrets");
  EXPECT_EQ(stored->rows[0].Text(0).find(value), std::string::npos);

  auto list = api_->List("acme");
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->secrets_size(), 1);
  EXPECT_EQ(list->secrets(0).name(), "BQ_SERVICE_ACCOUNT");
  EXPECT_EQ(list->secrets(0).digest(), record.digest());
  EXPECT_EQ(list->secrets(0).namespace_(), "");
  EXPECT_EQ(list->secrets(0).DebugString().find(value), std::string::npos);
}

TEST_F(SecretsTest, OptimusRulesForCreateUpdateAndDelete) {
  const std::string v = absl::Base64Escape("v");
  ASSERT_TRUE(api_->Save("acme", "token", v, "finance", true).ok());
  auto again = api_->Save("acme", "TOKEN", v, "", true);
  EXPECT_EQ(again.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(again.message(), "secret TOKEN already exists in project acme (update it instead)");
  EXPECT_EQ(api_->Save("acme", "other", v, "", false).code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(api_->Save("acme", "token", absl::Base64Escape("w"), "finance", false).ok());
  EXPECT_EQ(api_->Save("acme", "x", "not base64!", "", true).message(),
            "the value of secret X is not base64");
  EXPECT_EQ(api_->Save("acme", "x", "", "", true).message(), "secret X needs a value");
  EXPECT_EQ(api_->Save("acme", "x", v, "sales", true).message(),
            "project acme has no namespace sales");
  EXPECT_EQ(api_->Save("nope", "x", v, "", true).code(), absl::StatusCode::kNotFound);
  // Deleting needs the secret's own scope.
  auto wrong = api_->Delete("acme", "token", "");
  EXPECT_EQ(wrong.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(wrong.message(), "no secret TOKEN in project acme");
  ASSERT_TRUE(api_->Delete("acme", "token", "finance").ok());
  EXPECT_EQ(api_->List("acme")->secrets_size(), 0);
  auto published = Published();
  ASSERT_EQ(published.size(), 3u);
  EXPECT_EQ(published[2].second, "");  // the tombstone
}

TEST_F(SecretsTest, WithoutAnAppKeySecretsAreRefusedWithTheReason) {
  SecretsApi off(*db_, outbox_, std::nullopt);
  auto s = off.Save("acme", "x", absl::Base64Escape("v"), "", true);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("set secrets.app_key"));
}

}  // namespace
}  // namespace optimus::ingest
