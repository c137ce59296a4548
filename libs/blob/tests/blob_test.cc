// Unit tests of optimus::blob: FileBlobStore, SigV4 (AWS vectors), S3 XML, URIs, and the S3 store
// against a scripted loopback HTTP server (signatures, retries, errors, pagination).
#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "blob_test_support.h"
#include "optimus/blob/blob_store.h"
#include "optimus/blob/file_blob_store.h"
#include "optimus/blob/s3_blob_store.h"
#include "optimus/testing/testing.h"
#include "s3_xml.h"
#include "scripted_http_server.h"
#include "sigv4.h"
#include "uri_util.h"

namespace optimus::blob {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every file under `dir` whose name marks it as a temp file of the store.
std::vector<std::string> TempFilesUnder(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().filename().string().rfind(".optimus-tmp-", 0) == 0) {
      out.push_back(entry.path().string());
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// FileBlobStore

class FileBlobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = FileBlobStore::Open(dir_.path() / "root");
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  optimus::testing::TempDir dir_;
  std::unique_ptr<FileBlobStore> store_;
};

TEST_F(FileBlobStoreTest, PutGetRoundTripsBinaryContent) {
  const std::string content("a\0b\xff\n\r\0end", 11);
  ASSERT_TRUE(store_->Put("dags/team-a/job.bin", content).ok());
  auto got = store_->Get("dags/team-a/job.bin");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, content);
  // The object is a plain file at the key's path under the root, parents created on demand.
  EXPECT_EQ(ReadFile(store_->root() / "dags/team-a/job.bin"), content);
}

TEST_F(FileBlobStoreTest, UnsyncedPutsAreVisibleAtOnceAndSyncedInOneCall) {
  // A few objects: fsynced one by one; many: one syncfs. Both leave every object readable.
  for (int n : {3, 80}) {
    for (int i = 0; i < n; ++i) {
      const std::string key = "batch" + std::to_string(n) + "/f" + std::to_string(i) + ".py";
      ASSERT_TRUE(store_->PutUnsynced(key, "x" + std::to_string(i)).ok());
      EXPECT_EQ(*store_->Get(key), "x" + std::to_string(i));
    }
    ASSERT_TRUE(store_->Delete("batch" + std::to_string(n) + "/f0.py").ok());
    EXPECT_TRUE(store_->Sync().ok());
    EXPECT_TRUE(store_->Sync().ok());  // nothing left to sync
    EXPECT_EQ(*store_->Get("batch" + std::to_string(n) + "/f1.py"), "x1");
  }
}

TEST_F(FileBlobStoreTest, EmptyContentIsAnObject) {
  ASSERT_TRUE(store_->Put("empty", "").ok());
  auto got = store_->Get("empty");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "");
  auto listed = store_->List("");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].size, 0);
}

TEST_F(FileBlobStoreTest, OverwriteReplacesContentAndLeavesNoTempFiles) {
  ASSERT_TRUE(store_->Put("a/key", "first version, longer").ok());
  ASSERT_TRUE(store_->Put("a/key", "second").ok());
  EXPECT_EQ(*store_->Get("a/key"), "second");
  EXPECT_TRUE(TempFilesUnder(store_->root()).empty());
}

TEST_F(FileBlobStoreTest, GetMissingIsNotFound) {
  auto got = store_->Get("no/such/key");
  EXPECT_TRUE(absl::IsNotFound(got.status())) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr("no/such/key"));
  ASSERT_TRUE(store_->Put("folder/child", "x").ok());
  // A folder of keys is not itself an object.
  EXPECT_TRUE(absl::IsNotFound(store_->Get("folder").status()));
  // Nor is anything under an object.
  EXPECT_TRUE(absl::IsNotFound(store_->Get("folder/child/grandchild").status()));
}

TEST_F(FileBlobStoreTest, DeleteIsIdempotent) {
  ASSERT_TRUE(store_->Put("k", "v").ok());
  EXPECT_TRUE(store_->Delete("k").ok());
  EXPECT_TRUE(absl::IsNotFound(store_->Get("k").status()));
  EXPECT_TRUE(store_->Delete("k").ok());
  EXPECT_TRUE(store_->Delete("never/was").ok());
}

TEST_F(FileBlobStoreTest, RejectsKeysThatEscapeOrAliasTheRoot) {
  for (const char* key : {"", "/etc/passwd", "../outside", "a/../../outside", "a/./b", "a//b",
                          "trailing/", ".", "..", "x/.optimus-tmp-abc"}) {
    SCOPED_TRACE(key);
    absl::Status put = store_->Put(key, "x");
    EXPECT_TRUE(absl::IsInvalidArgument(put)) << put;
    EXPECT_THAT(put.message(), HasSubstr("invalid blob key"));
    EXPECT_TRUE(absl::IsInvalidArgument(store_->Get(key).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(store_->Delete(key)));
  }
  EXPECT_TRUE(absl::IsInvalidArgument(store_->Put(std::string("nul\0byte", 8), "x")));
  // Nothing was written next to the root.
  EXPECT_FALSE(fs::exists(dir_.path() / "outside"));
  auto listed = store_->List("");
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST_F(FileBlobStoreTest, ListIsRecursiveSortedAndFilteredByPrefix) {
  for (const char* key : {"b/2", "a/z", "ab", "a/b/c", "a/a", "c"}) {
    ASSERT_TRUE(store_->Put(key, std::string(std::strlen(key), 'x')).ok());
  }
  auto all = store_->List("");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_THAT(Keys(*all), ElementsAre("a/a", "a/b/c", "a/z", "ab", "b/2", "c"));
  EXPECT_EQ((*all)[1].size, 5);

  auto folder = store_->List("a/");
  ASSERT_TRUE(folder.ok());
  EXPECT_THAT(Keys(*folder), ElementsAre("a/a", "a/b/c", "a/z"));
  // A prefix is a string prefix, not a folder: "a" also matches "ab".
  EXPECT_THAT(Keys(*store_->List("a")), ElementsAre("a/a", "a/b/c", "a/z", "ab"));
  EXPECT_THAT(Keys(*store_->List("a/b")), ElementsAre("a/b/c"));
  EXPECT_TRUE(store_->List("zzz/")->empty());
  EXPECT_TRUE(store_->List("../")->empty());
}

TEST_F(FileBlobStoreTest, ListSkipsTempFiles) {
  ASSERT_TRUE(store_->Put("dir/real", "1").ok());
  // What an interrupted Put leaves behind.
  std::ofstream(store_->root() / "dir/.optimus-tmp-leftover") << "partial";
  auto listed = store_->List("");
  ASSERT_TRUE(listed.ok());
  EXPECT_THAT(Keys(*listed), ElementsAre("dir/real"));
}

TEST_F(FileBlobStoreTest, KeyUnderAnObjectIsAnError) {
  ASSERT_TRUE(store_->Put("file", "x").ok());
  absl::Status status = store_->Put("file/child", "y");
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("file"));
  EXPECT_EQ(*store_->Get("file"), "x");
}

TEST_F(FileBlobStoreTest, ConcurrentReadersSeeOnlyWholeVersions) {
  // Large enough that a non-atomic write would be seen half-done.
  const std::string a(512 * 1024, 'a');
  const std::string b(256 * 1024, 'b');
  ASSERT_TRUE(store_->Put("hot", a).ok());
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::atomic<int> reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 2; ++i) {
    readers.emplace_back([&] {
      while (!stop) {
        auto got = store_->Get("hot");
        if (!got.ok() || (*got != a && *got != b)) ++torn;
        ++reads;
      }
    });
  }
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(store_->Put("hot", i % 2 == 0 ? b : a).ok());
  }
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(reads.load(), 0);
  EXPECT_TRUE(TempFilesUnder(store_->root()).empty());
}

TEST(FileBlobStoreOpenTest, RootMustBeAbsoluteDirectory) {
  EXPECT_TRUE(absl::IsInvalidArgument(FileBlobStore::Open("relative/dir").status()));
  optimus::testing::TempDir dir;
  std::ofstream(dir.path() / "a-file") << "x";
  auto status = FileBlobStore::Open(dir.path() / "a-file").status();
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("a-file"));
}

// ---------------------------------------------------------------------------------------------
// SigV4

constexpr char kExampleAccessKey[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kExampleSecretKey[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(SigV4Test, Sha256OfEmptyString) { EXPECT_EQ(sigv4::Sha256Hex(""), kEmptySha256); }

// The "GET Object" example of the AWS S3 documentation (Signature Version 4, header auth).
TEST(SigV4Test, AwsS3GetObjectExample) {
  sigv4::Request request;
  request.method = "GET";
  request.canonical_uri = sigv4::EncodeS3Path("test.txt");
  request.payload_hash = sigv4::Sha256Hex("");
  request.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                     {"Range", "bytes=0-9"},
                     {"x-amz-content-sha256", request.payload_hash},
                     {"x-amz-date", "20130524T000000Z"}};
  EXPECT_EQ(
      sigv4::CanonicalRequest(request),
      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::string scope = sigv4::CredentialScope("20130524T000000Z", "us-east-1", "s3");
  EXPECT_EQ(scope, "20130524/us-east-1/s3/aws4_request");
  EXPECT_EQ(sigv4::StringToSign("20130524T000000Z", scope, sigv4::CanonicalRequest(request)),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  sigv4::Credentials credentials{kExampleAccessKey, kExampleSecretKey, ""};
  EXPECT_EQ(sigv4::Signature(request, credentials, "us-east-1", "s3"),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(sigv4::AuthorizationHeader(request, credentials, "us-east-1", "s3"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

// "get-vanilla-query-order-key-case" of the AWS SigV4 test suite: parameters given out of order
// must be signed sorted.
TEST(SigV4Test, AwsTestSuiteQueryOrder) {
  sigv4::Request request;
  request.method = "GET";
  request.canonical_uri = "/";
  request.query = {{"Param2", "value2"}, {"Param1", "value1"}};
  request.payload_hash = sigv4::Sha256Hex("");
  request.headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
  sigv4::Credentials credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  EXPECT_EQ(sigv4::CanonicalQueryString(request.query), "Param1=value1&Param2=value2");
  EXPECT_EQ(sigv4::Signature(request, credentials, "us-east-1", "service"),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4Test, UriEncodingFollowsRfc3986) {
  EXPECT_EQ(sigv4::UriEncode("AZaz09-_.~", false), "AZaz09-_.~");
  EXPECT_EQ(sigv4::UriEncode("a b+c/d=e&f", false), "a%20b%2Bc%2Fd%3De%26f");
  EXPECT_EQ(sigv4::UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(sigv4::UriEncode("\xc3\xbc*", false), "%C3%BC%2A");
  // S3 paths: every key byte encoded once, slashes kept, nothing normalised away.
  EXPECT_EQ(sigv4::EncodeS3Path("dir/a b/%41/./x"), "/dir/a%20b/%2541/./x");
}

TEST(SigV4Test, CanonicalQueryIsEncodedAndSortedByNameThenValue) {
  sigv4::Pairs query = {{"prefix", "dags/a b"},
                        {"list-type", "2"},
                        {"continuation-token", "1/abc+def=="},
                        {"b", "2"},
                        {"b", "1"},
                        {"empty", ""}};
  EXPECT_EQ(sigv4::CanonicalQueryString(query),
            "b=1&b=2&continuation-token=1%2Fabc%2Bdef%3D%3D&empty=&list-type=2&"
            "prefix=dags%2Fa%20b");
}

TEST(SigV4Test, HeadersAreLowercasedTrimmedSortedAndMerged) {
  sigv4::Request request;
  request.method = "PUT";
  request.canonical_uri = "/k";
  request.payload_hash = "UNSIGNED-PAYLOAD";
  request.headers = {{"X-Amz-Date", "20200101T000000Z"},
                     {"Host", "h"},
                     {"X-Amz-Meta-A", "  two   spaces  "},
                     {"x-amz-meta-a", "second"}};
  EXPECT_EQ(sigv4::CanonicalRequest(request),
            "PUT\n/k\n\nhost:h\nx-amz-date:20200101T000000Z\nx-amz-meta-a:two spaces,second\n\n"
            "host;x-amz-date;x-amz-meta-a\nUNSIGNED-PAYLOAD");
}

TEST(SigV4Test, AmzDateIsUtc) {
  EXPECT_EQ(sigv4::AmzDate(1369353600), "20130524T000000Z");
  EXPECT_EQ(sigv4::AmzDate(1440938160), "20150830T123600Z");
}

// ---------------------------------------------------------------------------------------------
// S3 XML

TEST(S3XmlTest, ParsesListPageWithEntitiesAndToken) {
  const char* xml = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>bucket</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>p/a &amp; b &lt;c&gt; &quot;q&quot; &apos;s&apos;</Key>
    <LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;x&quot;</ETag>
    <Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>p/&#x4E2D;&#25991;.txt</Key><Size>0</Size></Contents>
  <Contents><Key>p/z</Key><Size>9876543210</Size></Contents>
  <NextContinuationToken>1/tok+en==&amp;x</NextContinuationToken>
</ListBucketResult>)";
  auto page = s3xml::ParseListObjectsV2(xml);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->objects.size(), 3u);
  EXPECT_EQ(page->objects[0].key, "p/a & b <c> \"q\" 's'");
  EXPECT_EQ(page->objects[0].size, 12);
  EXPECT_EQ(page->objects[1].key, "p/\xe4\xb8\xad\xe6\x96\x87.txt");  // 中文
  EXPECT_EQ(page->objects[2].size, 9876543210);
  EXPECT_TRUE(page->truncated);
  EXPECT_EQ(page->next_continuation_token, "1/tok+en==&x");
}

TEST(S3XmlTest, ParsesLastAndEmptyPages) {
  auto last = s3xml::ParseListObjectsV2(
      "<ListBucketResult><IsTruncated>false</IsTruncated>"
      "<Contents><Key>k</Key><Size>1</Size></Contents></ListBucketResult>");
  ASSERT_TRUE(last.ok()) << last.status();
  EXPECT_FALSE(last->truncated);
  EXPECT_THAT(Keys(last->objects), ElementsAre("k"));
  auto empty = s3xml::ParseListObjectsV2(
      "<ListBucketResult><Name>b</Name><Prefix/><KeyCount>0</KeyCount>"
      "<IsTruncated>false</IsTruncated></ListBucketResult>");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->objects.empty());
}

TEST(S3XmlTest, RejectsMalformedPages) {
  EXPECT_THAT(s3xml::ParseListObjectsV2("<html>proxy error</html>").status().message(),
              HasSubstr("ListBucketResult"));
  EXPECT_FALSE(s3xml::ParseListObjectsV2(
                   "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>")
                   .ok());
  EXPECT_THAT(s3xml::ParseListObjectsV2(
                  "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>")
                  .status()
                  .message(),
              HasSubstr("NextContinuationToken"));
  EXPECT_FALSE(s3xml::ParseListObjectsV2("<ListBucketResult><Contents><Key>k</Key>"
                                         "<Size>-1</Size></Contents></ListBucketResult>")
                   .ok());
  EXPECT_FALSE(
      s3xml::ParseListObjectsV2("<ListBucketResult><Contents><Key>a &bogus; b</Key></Contents>"
                                "</ListBucketResult>")
          .ok());
}

TEST(S3XmlTest, UnescapeRejectsBadReferences) {
  EXPECT_EQ(*s3xml::XmlUnescape("a&#38;b&#x3C;"), "a&b<");
  EXPECT_EQ(*s3xml::XmlUnescape("&#x1F600;"), "\xf0\x9f\x98\x80");
  EXPECT_TRUE(absl::IsInvalidArgument(s3xml::XmlUnescape("a & b").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(s3xml::XmlUnescape("&#xD800;").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(s3xml::XmlUnescape("&#;").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(s3xml::XmlUnescape("&nbsp;").status()));
}

TEST(S3XmlTest, ParsesErrorBodies) {
  auto error = s3xml::ParseError(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
      "<Message>The specified key &quot;x&quot; does not exist.</Message>"
      "<Key>x</Key><RequestId>1</RequestId></Error>");
  EXPECT_EQ(error.code, "NoSuchKey");
  EXPECT_EQ(error.message, "The specified key \"x\" does not exist.");
  auto none = s3xml::ParseError("");
  EXPECT_TRUE(none.code.empty());
  EXPECT_TRUE(none.message.empty());
}

// ---------------------------------------------------------------------------------------------
// URIs and addressing

TEST(S3UriTest, ParsesEveryParameter) {
  auto config = S3ConfigFromUri(
      "s3://my-bucket/dags/v1?endpoint=http%3A%2F%2F127.0.0.1%3A9000&region=eu-west-1"
      "&path_style=true&list_page_size=7&connect_timeout_ms=100&request_timeout_ms=2000"
      "&max_attempts=2");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bucket, "my-bucket");
  EXPECT_EQ(config->prefix, "dags/v1/");
  EXPECT_EQ(config->endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(config->region, "eu-west-1");
  EXPECT_TRUE(config->path_style);
  EXPECT_EQ(config->list_page_size, 7);
  EXPECT_EQ(config->connect_timeout_ms, 100);
  EXPECT_EQ(config->request_timeout_ms, 2000);
  EXPECT_EQ(config->max_attempts, 2);
}

TEST(S3UriTest, DefaultsAndUnescapedEndpoint) {
  auto bare = S3ConfigFromUri("s3://bucket");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(bare->prefix, "");
  EXPECT_FALSE(bare->path_style);
  EXPECT_EQ(bare->endpoint, "");
  auto slash = S3ConfigFromUri("s3://bucket/?endpoint=http://127.0.0.1:59000&path_style=false");
  ASSERT_TRUE(slash.ok()) << slash.status();
  EXPECT_EQ(slash->prefix, "");
  EXPECT_EQ(slash->endpoint, "http://127.0.0.1:59000");
  EXPECT_EQ(S3ConfigFromUri("s3://bucket/a%20b/")->prefix, "a b/");
}

TEST(S3UriTest, RejectsBadUris) {
  struct Case {
    const char* uri;
    const char* says;
  };
  for (const Case& c :
       {Case{"s3://", "bucket name is missing"}, Case{"s3:///prefix", "bucket name is missing"},
        Case{"s3://ab", "not a valid bucket name"},
        Case{"s3://Upper_Case", "not a valid bucket name"},
        Case{"s3://bucket?nope=1", "unknown parameter \"nope\""},
        Case{"s3://bucket?path_style=yes", "path_style must be true or false"},
        Case{"s3://bucket?list_page_size=0", "list_page_size=0"},
        Case{"s3://bucket?max_attempts=x", "max_attempts=x"},
        Case{"s3://bucket?secret_key=s", "credentials are not taken from URIs"},
        Case{"s3://bucket/%zz", "bad percent-escape"},
        Case{"gs://bucket", "does not start with s3://"}}) {
    SCOPED_TRACE(c.uri);
    auto config = S3ConfigFromUri(c.uri);
    ASSERT_TRUE(absl::IsInvalidArgument(config.status())) << config.status();
    EXPECT_THAT(config.status().message(), HasSubstr(c.says));
  }
}

TEST(S3UriTest, AddressesPathAndVirtualHostStyle) {
  uri_util::HttpEndpoint endpoint{"http", "127.0.0.1:9000", ""};
  auto path_style = uri_util::AddressS3(endpoint, "bkt", true, "a b/c");
  EXPECT_EQ(path_style.host, "127.0.0.1:9000");
  EXPECT_EQ(path_style.path, "/bkt/a%20b/c");
  EXPECT_EQ(uri_util::AddressS3(endpoint, "bkt", true, "").path, "/bkt");
  uri_util::HttpEndpoint aws{"https", "s3.eu-west-1.amazonaws.com", ""};
  auto virtual_host = uri_util::AddressS3(aws, "bkt", false, "k/v");
  EXPECT_EQ(virtual_host.host, "bkt.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(virtual_host.path, "/k/v");
  EXPECT_EQ(uri_util::AddressS3(aws, "bkt", false, "").path, "/");
  uri_util::HttpEndpoint based{"http", "gw:80", "/s3"};
  EXPECT_EQ(uri_util::AddressS3(based, "bkt", true, "k").path, "/s3/bkt/k");
}

TEST(S3UriTest, ParsesHttpEndpoints) {
  auto endpoint = uri_util::ParseHttpEndpoint("https://[::1]:9000/base/");
  ASSERT_TRUE(endpoint.ok());
  EXPECT_EQ(endpoint->scheme, "https");
  EXPECT_EQ(endpoint->authority, "[::1]:9000");
  EXPECT_EQ(endpoint->path, "/base");
  EXPECT_FALSE(uri_util::ParseHttpEndpoint("127.0.0.1:9000").ok());
  EXPECT_FALSE(uri_util::ParseHttpEndpoint("ftp://host").ok());
  EXPECT_FALSE(uri_util::ParseHttpEndpoint("http://").ok());
  EXPECT_FALSE(uri_util::ParseHttpEndpoint("http://user:pw@host").ok());
}

TEST(OpenBlobStoreTest, OpensFileStores) {
  optimus::testing::TempDir dir;
  auto encoded = OpenBlobStore("file://" + dir.path().string() + "/with%20space");
  ASSERT_TRUE(encoded.ok()) << encoded.status();
  ASSERT_TRUE((*encoded)->Put("k", "v").ok());
  EXPECT_EQ(ReadFile(dir.path() / "with space" / "k"), "v");
  auto localhost = OpenBlobStore("file://localhost" + dir.path().string());
  ASSERT_TRUE(localhost.ok()) << localhost.status();
  EXPECT_EQ(*(*localhost)->Get("with space/k"), "v");
  // Lenient about unencoded characters, as people type paths.
  auto raw = OpenBlobStore("file://" + dir.path().string() + "/with space");
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(*(*raw)->Get("k"), "v");
}

TEST(OpenBlobStoreTest, RejectsBadUris) {
  struct Case {
    std::string uri;
    const char* says;
  };
  for (const Case& c :
       {Case{"", "unsupported blob store URI"}, Case{"/var/lib/x", "unsupported blob store URI"},
        Case{"ftp://host/x", "unsupported blob store URI"},
        Case{"file://relative/path", "host must be empty or localhost"},
        Case{"file://", "path is missing"}, Case{"file:///tmp/x?mode=1", "no query"},
        Case{"s3://bucket?endpoint=ftp://h", "not http or https"},
        Case{"s3://bucket?endpoint=127.0.0.1:9000", "no scheme"}}) {
    SCOPED_TRACE(c.uri);
    ScopedEnv key("AWS_ACCESS_KEY_ID", "k");
    ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "s");
    auto store = OpenBlobStore(c.uri);
    ASSERT_TRUE(absl::IsInvalidArgument(store.status())) << store.status();
    EXPECT_THAT(store.status().message(), HasSubstr(c.says));
  }
}

TEST(OpenBlobStoreTest, S3NeedsCredentials) {
  ScopedEnv key("AWS_ACCESS_KEY_ID", nullptr);
  ScopedEnv secret("AWS_SECRET_ACCESS_KEY", nullptr);
  auto store = OpenBlobStore("s3://bucket?endpoint=http://127.0.0.1:1&path_style=true");
  ASSERT_TRUE(absl::IsInvalidArgument(store.status())) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("AWS_ACCESS_KEY_ID"));
  ScopedEnv key2("AWS_ACCESS_KEY_ID", "k");
  ScopedEnv secret2("AWS_SECRET_ACCESS_KEY", "s");
  EXPECT_TRUE(OpenBlobStore("s3://bucket?endpoint=http://127.0.0.1:1&path_style=true").ok());
}

// ---------------------------------------------------------------------------------------------
// S3BlobStore against a scripted loopback server

// Whether the request's SigV4 signature holds, recomputed the way S3 does: from the raw path,
// the decoded query and the received values of the headers the client says it signed.
bool SignedAsSent(const Recorded& rec) {
  auto auth = rec.headers.find("Authorization");
  if (auth == rec.headers.end()) return false;
  const std::string& value = auth->second;
  size_t sh = value.find("SignedHeaders=");
  size_t sig = value.find(",Signature=");
  if (sh == std::string::npos || sig == std::string::npos) return false;
  std::string signed_names = value.substr(sh + 14, sig - sh - 14);
  sigv4::Request request;
  request.method = rec.method;
  size_t q = rec.target.find('?');
  request.canonical_uri = rec.target.substr(0, q);
  if (q != std::string::npos) {
    std::string raw_query = rec.target.substr(q + 1);
    auto query = uri_util::ParseQuery(raw_query);
    if (!query.ok()) return false;
    request.query = *query;
    // The wire must carry the canonical form itself, or S3 would compute another one.
    if (sigv4::CanonicalQueryString(request.query) != raw_query) return false;
  }
  size_t start = 0;
  while (start <= signed_names.size()) {
    size_t semi = signed_names.find(';', start);
    std::string name = signed_names.substr(start, semi - start);
    auto it = rec.headers.find(name);
    if (it == rec.headers.end()) return false;
    request.headers.emplace_back(name, it->second);
    if (semi == std::string::npos) break;
    start = semi + 1;
  }
  auto hash = rec.headers.find("x-amz-content-sha256");
  if (hash == rec.headers.end() || hash->second != sigv4::Sha256Hex(rec.body)) return false;
  request.payload_hash = hash->second;
  sigv4::Credentials credentials{"test-access", "test-secret", ""};
  return value == sigv4::AuthorizationHeader(request, credentials, "us-east-1", "s3");
}

// The scripted server as an S3 endpoint: path style, the test credentials.
class FakeS3 : public ScriptedHttpServer {
 public:
  explicit FakeS3(Handler handler) : ScriptedHttpServer("application/xml", std::move(handler)) {}

  S3Config Config() const {
    S3Config config;
    config.bucket = "bkt";
    config.endpoint = endpoint();
    config.path_style = true;
    config.access_key = "test-access";
    config.secret_key = "test-secret";
    config.region = "us-east-1";
    config.max_attempts = 3;
    return config;
  }
};

std::unique_ptr<S3BlobStore> MakeStore(S3Config config) {
  auto store = S3BlobStore::Create(std::move(config));
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

TEST(S3FakeServerTest, PutAndGetAreSignedAsSent) {
  FakeS3 fake([](const Recorded& rec) {
    if (rec.method == "GET") return Reply{200, std::string("bin\0ary", 7)};
    return Reply{200, ""};
  });
  S3Config config = fake.Config();
  config.prefix = "root/";
  auto store = MakeStore(config);
  ASSERT_NE(store, nullptr);
  const std::string content("x\0y", 3);
  ASSERT_TRUE(store->Put("dir/a b+c=ü.txt", content).ok());
  auto got = store->Get("dir/a b+c=ü.txt");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, std::string("bin\0ary", 7));

  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 2u);
  const Recorded& put = requests[0];
  EXPECT_EQ(put.method, "PUT");
  EXPECT_EQ(put.target, "/bkt/root/dir/a%20b%2Bc%3D%C3%BC.txt");
  EXPECT_EQ(put.body, content);
  EXPECT_TRUE(SignedAsSent(put));
  EXPECT_EQ(put.headers.find("x-amz-content-sha256")->second, sigv4::Sha256Hex(content));
  EXPECT_EQ(put.headers.find("Host")->second, "127.0.0.1:" + std::to_string(fake.port()));
  EXPECT_THAT(put.headers.find("Authorization")->second,
              HasSubstr("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"));
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_TRUE(SignedAsSent(requests[1]));
}

TEST(S3FakeServerTest, SessionTokenIsSentAndSigned) {
  FakeS3 fake([](const Recorded&) { return Reply{200, ""}; });
  S3Config config = fake.Config();
  config.access_key.clear();
  config.secret_key.clear();
  ScopedEnv key("AWS_ACCESS_KEY_ID", "test-access");
  ScopedEnv secret("AWS_SECRET_ACCESS_KEY", "test-secret");
  ScopedEnv token("AWS_SESSION_TOKEN", "tok/en");
  auto store = MakeStore(config);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Delete("k").ok());
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "DELETE");
  EXPECT_EQ(requests[0].headers.find("x-amz-security-token")->second, "tok/en");
  EXPECT_THAT(
      requests[0].headers.find("Authorization")->second,
      HasSubstr("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"));
}

TEST(S3FakeServerTest, RetriesServerErrorsThenSucceeds) {
  std::atomic<int> calls{0};
  FakeS3 fake([&](const Recorded&) {
    if (++calls <= 2)
      return Reply{503, "<Error><Code>SlowDown</Code><Message>wait</Message></Error>"};
    return Reply{200, ""};
  });
  auto store = MakeStore(fake.Config());
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->Put("k", "v").ok());
  EXPECT_EQ(fake.requests().size(), 3u);
}

TEST(S3FakeServerTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  FakeS3 fake([](const Recorded&) {
    return Reply{500, "<Error><Code>InternalError</Code><Message>boom</Message></Error>"};
  });
  S3Config config = fake.Config();
  config.max_attempts = 2;
  auto store = MakeStore(config);
  ASSERT_NE(store, nullptr);
  absl::Status status = store->Put("k", "v");
  EXPECT_TRUE(absl::IsUnavailable(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("InternalError: boom"));
  EXPECT_THAT(status.message(), HasSubstr("gave up after 2 attempts"));
  EXPECT_EQ(fake.requests().size(), 2u);
}

TEST(S3FakeServerTest, MapsErrorAnswersWithoutRetrying) {
  FakeS3 fake([](const Recorded& rec) {
    if (rec.target.find("/forbidden") != std::string::npos) {
      return Reply{403,
                   "<Error><Code>SignatureDoesNotMatch</Code><Message>bad sig</Message></Error>"};
    }
    if (rec.target.find("/conflict") != std::string::npos) {
      return Reply{409, "<Error><Code>OperationAborted</Code><Message>busy</Message></Error>"};
    }
    return Reply{404, "<Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>"};
  });
  auto store = MakeStore(fake.Config());
  ASSERT_NE(store, nullptr);
  absl::Status forbidden = store->Put("forbidden", "v");
  EXPECT_TRUE(absl::IsPermissionDenied(forbidden)) << forbidden;
  EXPECT_THAT(forbidden.message(), HasSubstr("HTTP 403 SignatureDoesNotMatch: bad sig"));
  EXPECT_THAT(forbidden.message(), HasSubstr("s3://bkt/forbidden"));
  EXPECT_TRUE(absl::IsFailedPrecondition(store->Put("conflict", "v")));
  auto missing = store->Get("missing");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_THAT(missing.status().message(), HasSubstr("NoSuchKey"));
  // Deleting what is not there is fine, even from a server that says NoSuchKey.
  EXPECT_TRUE(store->Delete("missing").ok());
  EXPECT_EQ(fake.requests().size(), 4u);
}

TEST(S3FakeServerTest, ListFollowsContinuationTokensAndStripsThePrefix) {
  FakeS3 fake([](const Recorded& rec) {
    auto query = *uri_util::ParseQuery(rec.target.substr(rec.target.find('?') + 1));
    std::map<std::string, std::string> params(query.begin(), query.end());
    if (params["list-type"] != "2" || params["prefix"] != "root/dags/" ||
        params["max-keys"] != "2") {
      return Reply{400, "<Error><Code>InvalidArgument</Code><Message>bad query</Message></Error>"};
    }
    std::string token = params["continuation-token"];
    if (token.empty()) {
      return Reply{200,
                   "<ListBucketResult><IsTruncated>true</IsTruncated>"
                   "<Contents><Key>root/dags/a</Key><Size>1</Size></Contents>"
                   "<Contents><Key>root/dags/b &amp; c</Key><Size>2</Size></Contents>"
                   "<NextContinuationToken>t/1+=</NextContinuationToken></ListBucketResult>"};
    }
    if (token == "t/1+=") {
      return Reply{200,
                   "<ListBucketResult><IsTruncated>true</IsTruncated>"
                   "<Contents><Key>root/dags/c</Key><Size>3</Size></Contents>"
                   "<NextContinuationToken>t2</NextContinuationToken></ListBucketResult>"};
    }
    if (token == "t2") {
      return Reply{200,
                   "<ListBucketResult><IsTruncated>false</IsTruncated>"
                   "<Contents><Key>root/dags/d/e</Key><Size>4</Size></Contents>"
                   "</ListBucketResult>"};
    }
    return Reply{400, "<Error><Code>InvalidArgument</Code><Message>bad token</Message></Error>"};
  });
  S3Config config = fake.Config();
  config.prefix = "root";  // Create adds the '/'.
  config.list_page_size = 2;
  auto store = MakeStore(config);
  ASSERT_NE(store, nullptr);
  auto listed = store->List("dags/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(Keys(*listed), ElementsAre("dags/a", "dags/b & c", "dags/c", "dags/d/e"));
  EXPECT_EQ((*listed)[3].size, 4);
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) EXPECT_TRUE(SignedAsSent(r)) << r.target;
  EXPECT_EQ(requests[1].target,
            "/bkt?continuation-token=t%2F1%2B%3D&list-type=2&max-keys=2&prefix=root%2Fdags%2F");
}

TEST(S3FakeServerTest, UnreachableServerIsUnavailableAfterRetries) {
  S3Config config;
  config.bucket = "bkt";
  config.endpoint = "http://127.0.0.1:" + std::to_string(RefusingLoopbackPort());
  config.path_style = true;
  config.access_key = "a";
  config.secret_key = "b";
  config.max_attempts = 2;
  config.request_timeout_ms = 5000;
  auto store = MakeStore(config);
  ASSERT_NE(store, nullptr);
  auto got = store->Get("k");
  EXPECT_TRUE(absl::IsUnavailable(got.status())) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr("gave up after 2 attempts"));
}

TEST(S3FakeServerTest, ConcurrentCallsFromManyThreads) {
  std::mutex mu;
  std::map<std::string, std::string> objects;
  FakeS3 fake([&](const Recorded& rec) {
    std::lock_guard<std::mutex> lock(mu);
    if (!SignedAsSent(rec)) return Reply{403, "<Error><Code>SignatureDoesNotMatch</Code></Error>"};
    if (rec.method == "PUT") {
      objects[rec.target] = rec.body;
      return Reply{200, ""};
    }
    auto it = objects.find(rec.target);
    if (it == objects.end()) return Reply{404, "<Error><Code>NoSuchKey</Code></Error>"};
    return Reply{200, it->second};
  });
  auto store = MakeStore(fake.Config());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(PutAndGetConcurrently(*store, 4, 25), 0);
  EXPECT_EQ(fake.requests().size(), 200u);
}

}  // namespace
}  // namespace optimus::blob
