// GcsBlobStore against a real GCS emulator (tools/dev/gcs: fake-gcs-server), addressed by
// OPTIMUS_TEST_GCS_ENDPOINT.
#include "blob_test_support.h"
#include "optimus/blob/blob_store.h"
#include "optimus/blob/gcs_blob_store.h"
#include "optimus/testing/testing.h"

namespace optimus::blob {
namespace {

using ::optimus::testing::InfraEnv;
using ::testing::HasSubstr;

GcsConfig ConfigFromEnv(const std::string& bucket) {
  GcsConfig config;
  config.bucket = bucket;
  config.endpoint = InfraEnv("OPTIMUS_TEST_GCS_ENDPOINT");
  config.request_timeout_ms = 30000;
  return config;
}

// Each test gets a fresh bucket, emptied afterwards (the emulator keeps buckets in memory).
class GcsStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    OPTIMUS_REQUIRE_INFRA("OPTIMUS_TEST_GCS_ENDPOINT");
    bucket_ = "optimus-test-" + optimus::testing::UniqueSuffix();
    auto store = GcsBlobStore::Create(ConfigFromEnv(bucket_));
    ASSERT_TRUE(store.ok()) << store.status();
    admin_ = *std::move(store);
    absl::Status created = admin_->CreateBucket();
    ASSERT_TRUE(created.ok()) << created;
  }

  void TearDown() override {
    if (admin_ == nullptr) return;
    DeleteAllObjects(*admin_);
  }

  std::unique_ptr<GcsBlobStore> Store(std::string prefix = "", int page_size = 0) {
    GcsConfig config = ConfigFromEnv(bucket_);
    config.prefix = std::move(prefix);
    config.list_page_size = page_size;
    auto store = GcsBlobStore::Create(config);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }

  std::string bucket_;
  std::unique_ptr<GcsBlobStore> admin_;
};

TEST_F(GcsStoreTest, CreateBucketTwiceIsFine) {
  absl::Status again = admin_->CreateBucket();
  EXPECT_TRUE(again.ok()) << again;
}

TEST_F(GcsStoreTest, PutGetOverwriteDelete) {
  auto store = Store();
  ASSERT_TRUE(store->Put("dags/job.yaml", "v1").ok());
  EXPECT_EQ(*store->Get("dags/job.yaml"), "v1");
  ASSERT_TRUE(store->Put("dags/job.yaml", "version two").ok());
  EXPECT_EQ(*store->Get("dags/job.yaml"), "version two");
  auto listed = store->List("dags/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "dags/job.yaml");
  EXPECT_EQ((*listed)[0].size, 11);
  ASSERT_TRUE(store->Delete("dags/job.yaml").ok());
  auto gone = store->Get("dags/job.yaml");
  EXPECT_TRUE(absl::IsNotFound(gone.status())) << gone.status();
  EXPECT_THAT(gone.status().message(),
              HasSubstr("GCS GET gs://" + bucket_ + "/dags/job.yaml: HTTP 404"));
  EXPECT_TRUE(store->Delete("dags/job.yaml").ok());  // Idempotent.
  EXPECT_TRUE(store->List("")->empty());
}

TEST_F(GcsStoreTest, BinaryAndEmptyContent) {
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
  auto listed = store->List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(Keys(*listed), (std::vector<std::string>{"big", "bin", "empty"}));
  EXPECT_EQ((*listed)[0].size, static_cast<int64_t>(big.size()));
  EXPECT_EQ((*listed)[2].size, 0);
}

TEST_F(GcsStoreTest, KeysWithSpacesUnicodeAndReservedCharacters) {
  auto store = Store("pre fix/ü");
  const std::vector<std::string> keys = {"a b/c d.txt", "ünïcödé/文件 ✓.json",
                                         "sym+bols=&?%;,@$!'()*[]~.txt", "x/&amp;<tag>\"q\""};
  for (const auto& key : keys) {
    absl::Status put = store->Put(key, "content of " + key);
    ASSERT_TRUE(put.ok()) << key << ": " << put;
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
  // The store's prefix is real: a store without it sees the full names.
  auto full = admin_->List("pre fix/ü/a ");
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_EQ(Keys(*full), std::vector<std::string>{"pre fix/ü/a b/c d.txt"});
  for (const auto& key : keys) EXPECT_TRUE(store->Delete(key).ok()) << key;
  EXPECT_TRUE(store->List("")->empty());
}

TEST_F(GcsStoreTest, ListPaginatesWithSmallPages) {
  auto store = Store("paged/", 7);
  std::vector<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    char key[32];
    std::snprintf(key, sizeof(key), "k/%03d", i);
    expected.push_back(key);
    ASSERT_TRUE(store->Put(key, std::string(i, 'x')).ok());
  }
  ASSERT_TRUE(store->Put("other", "not under k/").ok());
  ASSERT_TRUE(admin_->Put("paged-not", "beside the prefix, not under it").ok());
  auto listed = store->List("k/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(Keys(*listed), expected);
  EXPECT_EQ((*listed)[39].size, 39);
  EXPECT_EQ(store->List("")->size(), 41u);
}

TEST_F(GcsStoreTest, ConcurrentPutsThroughOneStore) {
  auto store = Store("many/", 100);
  constexpr int kObjects = 240;
  constexpr int kThreads = 4;
  ASSERT_EQ(PutNumberedConcurrently(*store, kObjects, kThreads), 0);
  auto listed = store->List("");
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), static_cast<size_t>(kObjects));
  for (int i = 0; i < kObjects; ++i) ASSERT_EQ((*listed)[i].key, NumberedKey(i));
}

TEST_F(GcsStoreTest, MissingObjectAndMissingBucketAreNotFound) {
  auto missing = Store()->Get("no/such/object");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  auto store =
      GcsBlobStore::Create(ConfigFromEnv("optimus-missing-" + optimus::testing::UniqueSuffix()));
  ASSERT_TRUE(store.ok());
  auto got = (*store)->Get("k");
  EXPECT_TRUE(absl::IsNotFound(got.status())) << got.status();
  auto listed = (*store)->List("");
  EXPECT_TRUE(absl::IsNotFound(listed.status())) << listed.status();
}

TEST_F(GcsStoreTest, OpenBlobStoreUri) {
  auto store = OpenBlobStore("gs://" + bucket_ + "/via-uri?endpoint=" +
                             InfraEnv("OPTIMUS_TEST_GCS_ENDPOINT") + "&list_page_size=1");
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Put("k", "v").ok());
  ASSERT_TRUE((*store)->Put("l", "w").ok());
  EXPECT_EQ(*admin_->Get("via-uri/k"), "v");
  EXPECT_EQ(Keys(*(*store)->List("")), (std::vector<std::string>{"k", "l"}));
}

}  // namespace
}  // namespace optimus::blob
