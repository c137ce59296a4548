// S3BlobStore against a real S3 server (tools/dev/s3: MinIO), addressed by OPTIMUS_TEST_S3_*.
#include "blob_test_support.h"
#include "optimus/blob/blob_store.h"
#include "optimus/blob/s3_blob_store.h"
#include "optimus/testing/testing.h"

namespace optimus::blob {
namespace {

using ::optimus::testing::InfraEnv;
using ::testing::HasSubstr;

S3Config ConfigFromEnv(const std::string& bucket) {
  S3Config config;
  config.bucket = bucket;
  config.endpoint = InfraEnv("OPTIMUS_TEST_S3_ENDPOINT");
  config.access_key = InfraEnv("OPTIMUS_TEST_S3_ACCESS_KEY");
  config.secret_key = InfraEnv("OPTIMUS_TEST_S3_SECRET_KEY");
  config.region = InfraEnv("OPTIMUS_TEST_S3_REGION");
  config.path_style = true;
  config.request_timeout_ms = 30000;
  return config;
}

// Each test gets a fresh bucket, emptied and removed afterwards.
class S3StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OPTIMUS_REQUIRE_INFRA("OPTIMUS_TEST_S3_ENDPOINT");
    bucket_ = "optimus-test-" + optimus::testing::UniqueSuffix();
    auto store = S3BlobStore::Create(ConfigFromEnv(bucket_));
    ASSERT_TRUE(store.ok()) << store.status();
    admin_ = *std::move(store);
    ASSERT_TRUE(admin_->CreateBucket().ok());
  }

  void TearDown() override {
    if (admin_ == nullptr) return;
    DeleteAllObjects(*admin_);
    EXPECT_TRUE(admin_->DeleteBucket().ok());
  }

  std::unique_ptr<S3BlobStore> Store(std::string prefix = "", int page_size = 0) {
    S3Config config = ConfigFromEnv(bucket_);
    config.prefix = std::move(prefix);
    config.list_page_size = page_size;
    auto store = S3BlobStore::Create(config);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::string bucket_;
  std::unique_ptr<S3BlobStore> admin_;
};

TEST_F(S3StoreTest, CreateBucketTwiceIsFine) { EXPECT_TRUE(admin_->CreateBucket().ok()); }

TEST_F(S3StoreTest, PutGetOverwriteDelete) {
  auto store = Store();
  ASSERT_TRUE(store->Put("dags/job.yaml", "v1").ok());
  EXPECT_EQ(*store->Get("dags/job.yaml"), "v1");
  ASSERT_TRUE(store->Put("dags/job.yaml", "version two").ok());
  EXPECT_EQ(*store->Get("dags/job.yaml"), "version two");
  auto listed = store->List("dags/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].size, 11);
  ASSERT_TRUE(store->Delete("dags/job.yaml").ok());
  auto gone = store->Get("dags/job.yaml");
  EXPECT_TRUE(absl::IsNotFound(gone.status())) << gone.status();
  EXPECT_THAT(gone.status().message(), HasSubstr("NoSuchKey"));
  EXPECT_TRUE(store->Delete("dags/job.yaml").ok());  // Idempotent.
}

TEST_F(S3StoreTest, BinaryAndEmptyContent) {
  auto store = Store();
  std::string binary;
  for (int i = 0; i < 3 * 256; ++i) binary.push_back(static_cast<char>(i % 256));
  binary += std::string("\0\0end\0", 6);
  ASSERT_TRUE(store->Put("bin", binary).ok());
  EXPECT_EQ(*store->Get("bin"), binary);
  ASSERT_TRUE(store->Put("empty", "").ok());
  EXPECT_EQ(*store->Get("empty"), "");
  std::string big(3 * 1024 * 1024 + 7, 'z');
  ASSERT_TRUE(store->Put("big", big).ok());
  EXPECT_EQ(*store->Get("big"), big);
}

TEST_F(S3StoreTest, KeysWithSpacesUnicodeAndReservedCharacters) {
  auto store = Store("pre fix/ü");
  const std::vector<std::string> keys = {"a b/c d.txt", "ünïcödé/文件 ✓.json",
                                         "sym+bols=&?#%;,@$!'()*[]~.txt", "x/&amp;<tag>\"q\""};
  for (const auto& key : keys) {
    ASSERT_TRUE(store->Put(key, "content of " + key).ok()) << key;
  }
  for (const auto& key : keys) {
    auto got = store->Get(key);
    ASSERT_TRUE(got.ok()) << key << ": " << got.status();
    EXPECT_EQ(*got, "content of " + key);
  }
  auto listed = store->List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  std::vector<std::string> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(Keys(*listed), sorted);
  // The store's prefix is real: a store without it sees the full keys.
  auto full = admin_->List("pre fix/ü/a ");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(Keys(*full), std::vector<std::string>{"pre fix/ü/a b/c d.txt"});
}

TEST_F(S3StoreTest, ListPaginatesWithSmallPages) {
  auto store = Store("paged/", 7);
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    char key[32];
    std::snprintf(key, sizeof(key), "k/%03d", i);
    expected.push_back(key);
    ASSERT_TRUE(store->Put(key, std::string(i, 'x')).ok());
  }
  ASSERT_TRUE(store->Put("other", "not under k/").ok());
  auto listed = store->List("k/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(Keys(*listed), expected);
  EXPECT_EQ((*listed)[39].size, 39);
  EXPECT_EQ(store->List("")->size(), 41u);
}

// More objects than one default page (1000), written from several threads through one store.
TEST_F(S3StoreTest, ListBeyondOneDefaultPageWithConcurrentPuts) {
  auto store = Store("many/");
  constexpr int kObjects = 1010;
  constexpr int kThreads = 4;
  ASSERT_EQ(PutNumberedConcurrently(*store, kObjects, kThreads), 0);
  auto listed = store->List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), static_cast<size_t>(kObjects));
  for (int i = 0; i < kObjects; ++i) ASSERT_EQ((*listed)[i].key, NumberedKey(i));
}

TEST_F(S3StoreTest, WrongSecretKeyIsPermissionDenied) {
  S3Config config = ConfigFromEnv(bucket_);
  config.secret_key = "definitely-not-the-secret";
  auto store = S3BlobStore::Create(config);
  ASSERT_TRUE(store.ok());
  absl::Status put = (*store)->Put("k", "v");
  EXPECT_TRUE(absl::IsPermissionDenied(put)) << put;
  EXPECT_THAT(put.message(), HasSubstr("SignatureDoesNotMatch"));
  auto got = (*store)->Get("k");
  EXPECT_TRUE(absl::IsPermissionDenied(got.status())) << got.status();
  auto listed = (*store)->List("");
  EXPECT_TRUE(absl::IsPermissionDenied(listed.status())) << listed.status();
}

TEST_F(S3StoreTest, MissingBucketIsNotFound) {
  S3Config config = ConfigFromEnv("optimus-missing-" + optimus::testing::UniqueSuffix());
  auto store = S3BlobStore::Create(config);
  ASSERT_TRUE(store.ok());
  auto got = (*store)->Get("k");
  EXPECT_TRUE(absl::IsNotFound(got.status())) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr("NoSuchBucket"));
  auto listed = (*store)->List("");
  EXPECT_TRUE(absl::IsNotFound(listed.status())) << listed.status();
}

TEST_F(S3StoreTest, OpenBlobStoreUri) {
  // Credentials come from the environment for URIs.
  setenv("AWS_ACCESS_KEY_ID", InfraEnv("OPTIMUS_TEST_S3_ACCESS_KEY").c_str(), 1);
  setenv("AWS_SECRET_ACCESS_KEY", InfraEnv("OPTIMUS_TEST_S3_SECRET_KEY").c_str(), 1);
  std::string region = InfraEnv("OPTIMUS_TEST_S3_REGION");
  auto store = OpenBlobStore("s3://" + bucket_ +
                             "/via-uri?endpoint=" + InfraEnv("OPTIMUS_TEST_S3_ENDPOINT") +
                             "&path_style=true" + (region.empty() ? "" : "&region=" + region));
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Put("k", "v").ok());
  EXPECT_EQ(*admin_->Get("via-uri/k"), "v");
  EXPECT_EQ(Keys(*(*store)->List("")), std::vector<std::string>{"k"});
}

}  // namespace
}  // namespace optimus::blob
