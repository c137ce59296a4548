// GcsBlobStore without a real server: URI parsing, config checks, the JWT-bearer token flow and
// every call against scripted loopback HTTP servers (a storage API and a token endpoint).
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <atomic>
#include <ctime>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "blob_test_support.h"
#include "gcs_token_source.h"
#include "nlohmann/json.hpp"
#include "optimus/blob/blob_store.h"
#include "optimus/blob/gcs_blob_store.h"
#include "optimus/testing/testing.h"
#include "scripted_http_server.h"
#include "uri_util.h"

namespace optimus::blob {
namespace {

using Json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// ---------------------------------------------------------------------------------------------
// RSA keys made for the test, and the checks a token endpoint makes on an assertion

struct RsaKey {
  EVP_PKEY* pkey = nullptr;
  std::string pem;  // The private key, PKCS#8 PEM as in Google's key files.

  RsaKey() {
    pkey = EVP_RSA_gen(2048);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    BUF_MEM* mem = nullptr;
    BIO_get_mem_ptr(bio, &mem);
    pem.assign(mem->data, mem->length);
    BIO_free(bio);
  }
  ~RsaKey() { EVP_PKEY_free(pkey); }
  RsaKey(const RsaKey&) = delete;
  RsaKey& operator=(const RsaKey&) = delete;
};

// Generating a 2048-bit key takes a while; two for the whole binary are enough.
const RsaKey& TheKey() {
  static const RsaKey* key = new RsaKey();
  return *key;
}
const RsaKey& OtherKey() {
  static const RsaKey* key = new RsaKey();
  return *key;
}

constexpr char kClientEmail[] = "optimus@test-project.iam.gserviceaccount.com";

std::string KeyJson(const std::string& pem, const std::string& token_uri) {
  return Json{{"type", "service_account"},    {"project_id", "test-project"},
              {"private_key_id", "0123abcd"}, {"private_key", pem},
              {"client_email", kClientEmail}, {"client_id", "1234567890"},
              {"token_uri", token_uri}}
      .dump();
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    size_t v = kAlphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    bits = bits << 6 | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>(bits >> count & 0xff));
    }
  }
  return out;
}

// What Google's token endpoint checks: the RS256 signature under the account's public key, the
// header and the claims. Returns "" when the assertion is good, otherwise why not.
std::string CheckAssertion(const std::string& assertion, EVP_PKEY* public_key,
                           const std::string& audience) {
  size_t dot1 = assertion.find('.');
  size_t dot2 = assertion.find('.', dot1 + 1);
  if (dot1 == std::string::npos || dot2 == std::string::npos) return "not three parts";
  auto header = Base64UrlDecode(assertion.substr(0, dot1));
  auto claims = Base64UrlDecode(assertion.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = Base64UrlDecode(assertion.substr(dot2 + 1));
  if (!header || !claims || !signature) return "bad base64url";
  std::string signing_input = assertion.substr(0, dot2);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool verified = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, public_key) == 1 &&
                  EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(signature->data()),
                                   signature->size(),
                                   reinterpret_cast<const unsigned char*>(signing_input.data()),
                                   signing_input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!verified) return "Invalid JWT Signature.";
  Json h = Json::parse(*header, nullptr, false);
  Json c = Json::parse(*claims, nullptr, false);
  if (h != Json{{"alg", "RS256"}, {"typ", "JWT"}}) return "bad header " + *header;
  if (!c.is_object() || c.value("iss", "") != kClientEmail) return "bad iss";
  if (c.value("scope", "") != "https://www.googleapis.com/auth/devstorage.read_write") {
    return "bad scope";
  }
  if (c.value("aud", "") != audience) return "bad aud " + c.value("aud", "");
  int64_t iat = c.value("iat", int64_t{0});
  int64_t now = static_cast<int64_t>(std::time(nullptr));
  if (iat < now - 60 || iat > now + 60) return "iat is not now";
  if (c.value("exp", int64_t{0}) != iat + 3600) return "exp is not iat + 3600";
  return "";
}

// ---------------------------------------------------------------------------------------------
// The storage API and its token endpoint (/token) on one scripted loopback server

class FakeGcs {
 public:
  using Handler = ScriptedHttpServer::Handler;

  // Token requests go to `token_handler` (by default: a token endpoint that verifies the
  // assertion with TheKey() and hands out "tok-1", "tok-2", ... valid for `expires_in`).
  explicit FakeGcs(Handler handler, Handler token_handler = nullptr)
      : handler_(std::move(handler)),
        token_handler_(std::move(token_handler)),
        server_("application/json", [this](const Recorded& rec) {
          if (!IsToken(rec)) return handler_(rec);
          return token_handler_ ? token_handler_(rec) : DefaultToken(rec);
        }) {}

  std::string endpoint() const { return server_.endpoint(); }
  std::string token_uri() const { return endpoint() + "/token"; }
  std::vector<Recorded> requests() { return Requests(false); }
  std::vector<Recorded> token_requests() { return Requests(true); }
  void set_expires_in(int seconds) { expires_in_ = seconds; }

  // An emulator-style config: no credentials.
  GcsConfig Config() const {
    GcsConfig config;
    config.bucket = "bkt";
    config.endpoint = endpoint();
    config.max_attempts = 3;
    return config;
  }
  // A config with a service-account key whose token_uri is this server.
  GcsConfig ConfigWithKey(const std::string& pem = TheKey().pem) const {
    GcsConfig config = Config();
    config.credentials_json = KeyJson(pem, token_uri());
    return config;
  }

 private:
  Reply DefaultToken(const Recorded& rec) {
    if (rec.method != "POST" || rec.Header("Content-Type") != "application/x-www-form-urlencoded") {
      return Reply{400, R"({"error":"invalid_request"})"};
    }
    auto form = uri_util::ParseQuery(rec.body);
    if (!form.ok()) return Reply{400, R"({"error":"invalid_request"})"};
    std::map<std::string, std::string> params(form->begin(), form->end());
    if (params["grant_type"] != "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      return Reply{400, R"({"error":"unsupported_grant_type"})"};
    }
    std::string why = CheckAssertion(params["assertion"], TheKey().pkey, token_uri());
    if (!why.empty()) {
      return Reply{400, Json{{"error", "invalid_grant"}, {"error_description", why}}.dump()};
    }
    int n = ++tokens_issued_;
    return Reply{200, Json{{"access_token", "tok-" + std::to_string(n)},
                           {"expires_in", expires_in_.load()},
                           {"token_type", "Bearer"}}
                          .dump()};
  }

  static bool IsToken(const Recorded& rec) { return rec.target == "/token"; }
  std::vector<Recorded> Requests(bool token) {
    std::vector<Recorded> out;
    for (Recorded& rec : server_.requests()) {
      if (IsToken(rec) == token) out.push_back(std::move(rec));
    }
    return out;
  }

  Handler handler_;
  Handler token_handler_;
  std::atomic<int> tokens_issued_{0};
  std::atomic<int> expires_in_{3599};
  ScriptedHttpServer server_;  // Last: it stops before what it calls goes away.
};

std::unique_ptr<GcsBlobStore> MakeStore(GcsConfig config) {
  auto store = GcsBlobStore::Create(std::move(config));
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

const char kNotFound[] =
    R"({"error":{"code":404,"message":"No such object: bkt/missing",)"
    R"("errors":[{"domain":"global","reason":"notFound","message":"No such object"}]}})";

// ---------------------------------------------------------------------------------------------
// URIs and configs

TEST(GcsUriTest, ParsesEveryParameter) {
  auto config = GcsConfigFromUri(
      "gs://my_bucket.example/dags%20dir/sub?endpoint=http://127.0.0.1:4443&list_page_size=7"
      "&connect_timeout_ms=100&request_timeout_ms=2000&max_attempts=2");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bucket, "my_bucket.example");
  EXPECT_EQ(config->prefix, "dags dir/sub/");
  EXPECT_EQ(config->endpoint, "http://127.0.0.1:4443");
  EXPECT_EQ(config->list_page_size, 7);
  EXPECT_EQ(config->connect_timeout_ms, 100);
  EXPECT_EQ(config->request_timeout_ms, 2000);
  EXPECT_EQ(config->max_attempts, 2);
  EXPECT_EQ(config->credentials_json, "");
}

TEST(GcsUriTest, DefaultsAndEmptyPrefix) {
  for (const char* uri : {"gs://bkt", "gs://bkt/", "gs://bkt?"}) {
    SCOPED_TRACE(uri);
    auto config = GcsConfigFromUri(uri);
    ASSERT_TRUE(config.ok()) << config.status();
    EXPECT_EQ(config->bucket, "bkt");
    EXPECT_EQ(config->prefix, "");
    EXPECT_EQ(config->endpoint, "");
    EXPECT_EQ(config->list_page_size, 0);
    EXPECT_EQ(config->max_attempts, 4);
  }
  EXPECT_EQ(GcsConfigFromUri("gs://bkt/a/b/")->prefix, "a/b/");
}

TEST(GcsUriTest, RejectsBadUris) {
  struct Case {
    std::string uri;
    const char* says;
  };
  for (const Case& c :
       {Case{"s3://bkt", "does not start with gs://"}, Case{"gs://", "bucket name is missing"},
        Case{"gs:///prefix", "bucket name is missing"},
        Case{"gs://Upper/x", "not a valid bucket name"}, Case{"gs://ab", "not a valid bucket"},
        Case{"gs://-bkt", "not a valid bucket name"}, Case{"gs://bkt/x#frag", "fragments"},
        Case{"gs://bkt/%zz", "bad percent-escape"},
        Case{"gs://bkt?list_page_size=0", "list_page_size=0 is not an integer >= 1"},
        Case{"gs://bkt?max_attempts=x", "max_attempts=x"},
        Case{"gs://bkt?region=us", "unknown parameter \"region\""},
        Case{"gs://bkt?credentials_json=%7B%7D", "credentials are not taken from URIs"},
        Case{"gs://bkt?access_token=t", "credentials are not taken from URIs"}}) {
    SCOPED_TRACE(c.uri);
    auto config = GcsConfigFromUri(c.uri);
    ASSERT_TRUE(absl::IsInvalidArgument(config.status())) << config.status();
    EXPECT_THAT(config.status().message(), HasSubstr(c.says));
    EXPECT_THAT(config.status().message(), HasSubstr("invalid GCS URI"));
  }
}

TEST(GcsCreateTest, NeedsCredentialsUnlessAnEmulatorIsSet) {
  ScopedEnv emulator("STORAGE_EMULATOR_HOST", nullptr);
  GcsConfig config;
  config.bucket = "bkt";
  auto store = GcsBlobStore::Create(config);
  ASSERT_TRUE(absl::IsInvalidArgument(store.status())) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("no GCS credentials for bucket bkt"));
  EXPECT_THAT(store.status().message(), HasSubstr("STORAGE_EMULATOR_HOST"));

  config.endpoint = "http://127.0.0.1:1";
  store = GcsBlobStore::Create(config);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->config().endpoint, "http://127.0.0.1:1");
}

TEST(GcsCreateTest, EndpointFromStorageEmulatorHost) {
  GcsConfig config;
  config.bucket = "bkt";
  config.prefix = "p";
  {
    ScopedEnv emulator("STORAGE_EMULATOR_HOST", "127.0.0.1:4443");
    auto store = GcsBlobStore::Create(config);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->config().endpoint, "http://127.0.0.1:4443");
    EXPECT_EQ((*store)->config().prefix, "p/");
  }
  {
    ScopedEnv emulator("STORAGE_EMULATOR_HOST", "https://gcs.local:8443");
    auto store = GcsBlobStore::Create(config);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->config().endpoint, "https://gcs.local:8443");
  }
  {
    // An explicit endpoint wins over the environment.
    ScopedEnv emulator("STORAGE_EMULATOR_HOST", "127.0.0.1:4443");
    config.endpoint = "http://127.0.0.1:5555";
    EXPECT_EQ((*GcsBlobStore::Create(config))->config().endpoint, "http://127.0.0.1:5555");
  }
  {
    ScopedEnv emulator("STORAGE_EMULATOR_HOST", nullptr);
    config.endpoint = "";
    config.credentials_json = KeyJson(TheKey().pem, "https://oauth2.googleapis.com/token");
    auto store = GcsBlobStore::Create(config);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->config().endpoint, "https://storage.googleapis.com");
    // The key is not kept where a printed config could show it.
    EXPECT_EQ((*store)->config().credentials_json, "");
  }
}

TEST(GcsCreateTest, RejectsBadConfigs) {
  struct Case {
    GcsConfig config;
    const char* says;
  };
  auto with = [](std::function<void(GcsConfig&)> change) {
    GcsConfig config;
    config.bucket = "bkt";
    config.endpoint = "http://127.0.0.1:1";
    change(config);
    return config;
  };
  for (const Case& c : {
           Case{with([](GcsConfig& c) { c.bucket = ""; }), "has no bucket"},
           Case{with([](GcsConfig& c) { c.bucket = "a/b"; }), "not a valid GCS bucket name"},
           Case{with([](GcsConfig& c) { c.endpoint = "127.0.0.1:1"; }), "no scheme"},
           Case{with([](GcsConfig& c) { c.max_attempts = 0; }), "max_attempts"},
           Case{with([](GcsConfig& c) { c.list_page_size = -1; }), "list_page_size >= 0"},
           Case{with([](GcsConfig& c) { c.credentials_json = "{not json"; }),
                "credentials_json is not a JSON object"},
           Case{with([](GcsConfig& c) {
                  c.credentials_json = R"({"type":"authorized_user","client_id":"x"})";
                }),
                "\"type\": \"authorized_user\"; only service-account keys"},
           Case{with([](GcsConfig& c) {
                  c.credentials_json = R"({"type":"service_account","private_key":"k"})";
                }),
                "no \"client_email\" string"},
           Case{with([](GcsConfig& c) {
                  c.credentials_json = R"({"type":"service_account","client_email":"e"})";
                }),
                "no \"private_key\" string"},
           Case{with([](GcsConfig& c) {
                  c.credentials_json = KeyJson("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n", "x");
                }),
                "token_uri \"x\""},
           Case{with([](GcsConfig& c) {
                  c.credentials_json = KeyJson(
                      "-----BEGIN PRIVATE KEY-----\nc2VjcmV0c2VjcmV0\n-----END PRIVATE KEY-----\n",
                      "https://oauth2.googleapis.com/token");
                }),
                "is not an unencrypted PEM private key"},
       }) {
    SCOPED_TRACE(c.says);
    auto store = GcsBlobStore::Create(c.config);
    ASSERT_TRUE(absl::IsInvalidArgument(store.status())) << store.status();
    EXPECT_THAT(store.status().message(), HasSubstr(c.says));
    // Whatever is wrong, the message never quotes the key.
    EXPECT_THAT(store.status().message(), Not(HasSubstr("c2VjcmV0")));
  }
}

TEST(GcsCreateTest, MalformedKeyJsonIsNotQuoted) {
  GcsConfig config;
  config.bucket = "bkt";
  config.endpoint = "http://127.0.0.1:1";
  config.credentials_json = R"({"type":"service_account","private_key":"SECRET-KEY-BYTES" oops})";
  auto store = GcsBlobStore::Create(config);
  ASSERT_TRUE(absl::IsInvalidArgument(store.status())) << store.status();
  EXPECT_THAT(store.status().message(), Not(HasSubstr("SECRET")));
}

TEST(OpenBlobStoreGcsTest, OpensEmulatorUrisOnly) {
  ScopedEnv emulator("STORAGE_EMULATOR_HOST", nullptr);
  auto store = OpenBlobStore("gs://bkt/pre?endpoint=http://127.0.0.1:1");
  ASSERT_TRUE(store.ok()) << store.status();
  auto without = OpenBlobStore("gs://bkt/pre");
  ASSERT_TRUE(absl::IsInvalidArgument(without.status())) << without.status();
  EXPECT_THAT(without.status().message(), HasSubstr("no GCS credentials"));
  auto bad = OpenBlobStore("gs://bkt?endpoint=ftp://h");
  ASSERT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  EXPECT_THAT(bad.status().message(), HasSubstr("not http or https"));
  auto unknown = OpenBlobStore("az://container/x");
  ASSERT_TRUE(absl::IsInvalidArgument(unknown.status())) << unknown.status();
  EXPECT_THAT(unknown.status().message(), HasSubstr("gs://bucket/prefix?endpoint="));
}

TEST(GcsUriTest, PercentEncodesEverythingButUnreserved) {
  EXPECT_EQ(uri_util::PercentEncode("a/b c+d=ü~-._"), "a%2Fb%20c%2Bd%3D%C3%BC~-._");
  EXPECT_EQ(uri_util::PercentEncode(""), "");
}

// ---------------------------------------------------------------------------------------------
// JWT pieces

TEST(GcsTokenTest, Base64UrlHasNoPaddingAndUrlSafeAlphabet) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("\xfb\xff\xbf"), "-_-_");
  EXPECT_EQ(Base64UrlEncode(R"({"alg":"RS256","typ":"JWT"})"),
            "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9");
}

TEST(GcsTokenTest, ParsesKeyFilesAndDefaultsTheTokenUri) {
  auto key = ParseServiceAccountKey(KeyJson("pem", "https://example.test/token"));
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->client_email, kClientEmail);
  EXPECT_EQ(key->private_key_pem, "pem");
  EXPECT_EQ(key->token_uri, "https://example.test/token");
  auto no_uri = ParseServiceAccountKey(
      R"({"type":"service_account","client_email":"e@x","private_key":"pem"})");
  ASSERT_TRUE(no_uri.ok()) << no_uri.status();
  EXPECT_EQ(no_uri->token_uri, "https://oauth2.googleapis.com/token");
}

TEST(GcsTokenTest, AssertionIsSignedWithTheKey) {
  auto key = ParseServiceAccountKey(KeyJson(TheKey().pem, "https://example.test/token"));
  ASSERT_TRUE(key.ok());
  auto source = GcsTokenSource::Create(
      *key, {"https://www.googleapis.com/auth/devstorage.read_write", 1000, 1000, 1});
  ASSERT_TRUE(source.ok()) << source.status();
  auto assertion = (*source)->Assertion(static_cast<int64_t>(std::time(nullptr)));
  ASSERT_TRUE(assertion.ok()) << assertion.status();
  EXPECT_EQ(CheckAssertion(*assertion, TheKey().pkey, "https://example.test/token"), "");
  EXPECT_EQ(CheckAssertion(*assertion, OtherKey().pkey, "https://example.test/token"),
            "Invalid JWT Signature.");
  EXPECT_EQ(assertion->substr(0, assertion->find('.')), "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9");
}

// ---------------------------------------------------------------------------------------------
// The store against the scripted server

TEST(GcsFakeServerTest, PutGetDeleteSendEncodedNamesAndNoAuthWithoutKey) {
  FakeGcs fake([](const Recorded& rec) {
    if (rec.method == "GET") return Reply{200, std::string("bin\0ary", 7)};
    if (rec.method == "DELETE") return Reply{204, ""};
    return Reply{200, R"({"kind":"storage#object"})"};
  });
  GcsConfig config = fake.Config();
  config.prefix = "root dir";
  auto store = MakeStore(config);
  ASSERT_NE(store, nullptr);
  const std::string content("x\0y", 3);
  ASSERT_TRUE(store->Put("dir/a b+c=ü?.txt", content).ok());
  auto got = store->Get("dir/a b+c=ü?.txt");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, std::string("bin\0ary", 7));
  ASSERT_TRUE(store->Delete("dir/a b+c=ü?.txt").ok());

  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target,
            "/upload/storage/v1/b/bkt/o?uploadType=media&name="
            "root%20dir%2Fdir%2Fa%20b%2Bc%3D%C3%BC%3F.txt");
  EXPECT_EQ(requests[0].body, content);
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(requests[1].method, "GET");
  EXPECT_EQ(requests[1].target,
            "/storage/v1/b/bkt/o/root%20dir%2Fdir%2Fa%20b%2Bc%3D%C3%BC%3F.txt?alt=media");
  EXPECT_EQ(requests[2].method, "DELETE");
  EXPECT_EQ(requests[2].target, "/storage/v1/b/bkt/o/root%20dir%2Fdir%2Fa%20b%2Bc%3D%C3%BC%3F.txt");
  for (const auto& r : requests) EXPECT_EQ(r.Header("Authorization"), "") << r.target;
  EXPECT_TRUE(fake.token_requests().empty());
}

TEST(GcsFakeServerTest, EmptyContentIsUploaded) {
  FakeGcs fake([](const Recorded&) { return Reply{200, "{}"}; });
  auto store = MakeStore(fake.Config());
  ASSERT_TRUE(store->Put("empty", "").ok());
  ASSERT_EQ(fake.requests().size(), 1u);
  EXPECT_EQ(fake.requests()[0].body, "");
  EXPECT_EQ(fake.requests()[0].Header("Content-Length"), "0");
}

TEST(GcsFakeServerTest, EndpointWithABasePath) {
  FakeGcs fake([](const Recorded&) { return Reply{200, "v"}; });
  GcsConfig config = fake.Config();
  config.endpoint = fake.endpoint() + "/gcs/";
  auto store = MakeStore(config);
  ASSERT_TRUE(store->Get("k").ok());
  EXPECT_EQ(fake.requests()[0].target, "/gcs/storage/v1/b/bkt/o/k?alt=media");
}

TEST(GcsFakeServerTest, ListFollowsPageTokensAndStripsThePrefix) {
  FakeGcs fake([](const Recorded& rec) {
    auto params = rec.Query();
    if (rec.target.rfind("/storage/v1/b/bkt/o?", 0) != 0 || params["prefix"] != "root/dags/" ||
        params["maxResults"] != "2" || params["fields"] != "items(name,size),nextPageToken") {
      return Reply{400, R"({"error":{"code":400,"message":"bad query"}})"};
    }
    std::string token = params["pageToken"];
    if (token.empty()) {
      return Reply{200, R"({"kind":"storage#objects","nextPageToken":"root/dags/b & c+=",
                           "items":[{"name":"root/dags/a","size":"1"},
                                    {"name":"root/dags/b & c","size":"2"}]})"};
    }
    if (token == "root/dags/b & c+=") {
      return Reply{200, R"({"nextPageToken":"t2",
                           "items":[{"name":"root/dags/c","size":"3"}]})"};
    }
    if (token == "t2") {
      // Last page: no token; sizes as numbers are accepted too.
      return Reply{200, R"({"items":[{"name":"root/dags/d/ü","size":4}]})"};
    }
    return Reply{400, R"({"error":{"code":400,"message":"bad token"}})"};
  });
  GcsConfig config = fake.Config();
  config.prefix = "root";  // Create adds the '/'.
  config.list_page_size = 2;
  auto store = MakeStore(config);
  ASSERT_NE(store, nullptr);
  auto listed = store->List("dags/");
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_THAT(Keys(*listed), ElementsAre("dags/a", "dags/b & c", "dags/c", "dags/d/ü"));
  EXPECT_EQ((*listed)[1].size, 2);
  EXPECT_EQ((*listed)[3].size, 4);
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[1].target,
            "/storage/v1/b/bkt/o?prefix=root%2Fdags%2F&fields=items%28name%2Csize%29%2C"
            "nextPageToken&maxResults=2&pageToken=root%2Fdags%2Fb%20%26%20c%2B%3D");
}

TEST(GcsFakeServerTest, ListOfNothingAndBrokenAnswers) {
  std::atomic<int> call{0};
  FakeGcs fake([&](const Recorded&) {
    switch (++call) {
      case 1:
        return Reply{200, R"({"kind":"storage#objects"})"};
      case 2:
        return Reply{200, R"({"items":[{"name":"elsewhere/x","size":"1"}]})"};
      case 3:
        return Reply{200, R"({"items":[{"name":"p/x"}]})"};
      case 4:
        return Reply{200, "<html>"};
      default:
        return Reply{200, R"({"nextPageToken":"same","items":[]})"};
    }
  });
  GcsConfig config = fake.Config();
  config.prefix = "p/";
  auto store = MakeStore(config);
  auto empty = store->List("");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());
  auto outside = store->List("");
  EXPECT_TRUE(absl::IsInternal(outside.status())) << outside.status();
  EXPECT_THAT(outside.status().message(), HasSubstr("outside the requested prefix"));
  auto no_size = store->List("");
  EXPECT_TRUE(absl::IsInternal(no_size.status())) << no_size.status();
  auto not_json = store->List("");
  EXPECT_TRUE(absl::IsInternal(not_json.status())) << not_json.status();
  EXPECT_THAT(not_json.status().message(), HasSubstr("GCS LIST gs://bkt/p/: "));
  auto loop = store->List("");
  EXPECT_TRUE(absl::IsInternal(loop.status())) << loop.status();
  EXPECT_THAT(loop.status().message(), HasSubstr("same page token twice"));
}

TEST(GcsFakeServerTest, MapsErrorAnswersWithoutRetrying) {
  FakeGcs fake([](const Recorded& rec) {
    if (rec.target.find("forbidden") != std::string::npos) {
      return Reply{403, R"({"error":{"code":403,"message":"no storage.objects.create access",)"
                        R"("errors":[{"reason":"forbidden"}]}})"};
    }
    if (rec.target.find("conflict") != std::string::npos) {
      return Reply{409, R"({"error":{"code":409,"message":"busy"}})"};
    }
    if (rec.target.find("invalid") != std::string::npos) {
      return Reply{400, R"({"error":{"code":400,"message":"bad name"}})"};
    }
    if (rec.target.find("nobucket") != std::string::npos) {
      return Reply{404,
                   R"({"error":{"code":404,"message":"The specified bucket does not exist."}})"};
    }
    if (rec.target.find("plain") != std::string::npos) return Reply{404, "Not Found\n"};
    return Reply{404, kNotFound};
  });
  auto store = MakeStore(fake.Config());
  ASSERT_NE(store, nullptr);
  absl::Status forbidden = store->Put("forbidden", "v");
  EXPECT_TRUE(absl::IsPermissionDenied(forbidden)) << forbidden;
  EXPECT_THAT(forbidden.message(), HasSubstr("GCS PUT gs://bkt/forbidden: HTTP 403 forbidden: "
                                             "no storage.objects.create access"));
  EXPECT_THAT(forbidden.message(), HasSubstr("no credentials_json given"));
  EXPECT_TRUE(absl::IsAlreadyExists(store->Put("conflict", "v")));
  EXPECT_TRUE(absl::IsInvalidArgument(store->Put("invalid", "v")));
  auto missing = store->Get("missing");
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  EXPECT_EQ(missing.status().message(),
            "GCS GET gs://bkt/missing: HTTP 404 notFound: No such object: bkt/missing");
  auto plain = store->Get("plain");
  EXPECT_TRUE(absl::IsNotFound(plain.status())) << plain.status();
  EXPECT_EQ(plain.status().message(), "GCS GET gs://bkt/plain: HTTP 404: Not Found");
  // Deleting what is not there is fine; deleting from a bucket that is not there is not.
  EXPECT_TRUE(store->Delete("missing").ok());
  absl::Status no_bucket = store->Delete("nobucket");
  EXPECT_TRUE(absl::IsNotFound(no_bucket)) << no_bucket;
  EXPECT_TRUE(absl::IsInvalidArgument(store->Put("", "v")));  // Refused before any request.
  EXPECT_EQ(fake.requests().size(), 7u);
}

TEST(GcsFakeServerTest, RetriesServerErrorsAndThrottlingThenSucceeds) {
  std::atomic<int> calls{0};
  FakeGcs fake([&](const Recorded&) {
    int n = ++calls;
    if (n == 1) return Reply{503, R"({"error":{"code":503,"message":"backend error"}})"};
    if (n == 2) return Reply{429, R"({"error":{"code":429,"message":"slow down"}})"};
    return Reply{200, "{}"};
  });
  auto store = MakeStore(fake.Config());
  EXPECT_TRUE(store->Put("k", "v").ok());
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) EXPECT_EQ(r.body, "v");  // The body is sent again each time.
}

TEST(GcsFakeServerTest, GivesUpAfterMaxAttemptsWithTheLastError) {
  FakeGcs fake([](const Recorded&) {
    return Reply{500,
                 R"({"error":{"code":500,"message":"boom","errors":[{"reason":"backendError"}]}})"};
  });
  GcsConfig config = fake.Config();
  config.max_attempts = 2;
  auto store = MakeStore(config);
  auto got = store->Get("k");
  EXPECT_TRUE(absl::IsUnavailable(got.status())) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr("GCS GET gs://bkt/k: HTTP 500 backendError: boom"));
  EXPECT_THAT(got.status().message(), HasSubstr("gave up after 2 attempts"));
  EXPECT_EQ(fake.requests().size(), 2u);
}

TEST(GcsFakeServerTest, UnreachableServerIsUnavailableAfterRetries) {
  GcsConfig config;
  config.bucket = "bkt";
  config.endpoint = "http://127.0.0.1:" + std::to_string(RefusingLoopbackPort());
  config.max_attempts = 2;
  auto store = MakeStore(config);
  absl::Status put = store->Put("k", "v");
  EXPECT_TRUE(absl::IsUnavailable(put)) << put;
  EXPECT_THAT(put.message(), HasSubstr("GCS PUT gs://bkt/k: POST http://127.0.0.1:"));
  EXPECT_THAT(put.message(), HasSubstr("check the endpoint"));
  EXPECT_THAT(put.message(), HasSubstr("gave up after 2 attempts"));
}

TEST(GcsFakeServerTest, CreateBucketPostsTheNameAndAcceptsAnExistingOne) {
  std::atomic<int> calls{0};
  FakeGcs fake([&](const Recorded&) {
    if (++calls == 1) return Reply{200, R"({"kind":"storage#bucket","name":"bkt"})"};
    if (calls == 2) return Reply{409, R"({"error":{"code":409,"message":"already exists"}})"};
    return Reply{403, R"({"error":{"code":403,"message":"denied"}})"};
  });
  auto store = MakeStore(fake.Config());
  EXPECT_TRUE(store->CreateBucket().ok());
  EXPECT_TRUE(store->CreateBucket("my project").ok());
  absl::Status denied = store->CreateBucket();
  EXPECT_TRUE(absl::IsPermissionDenied(denied)) << denied;
  EXPECT_THAT(denied.message(), HasSubstr("GCS create bucket gs://bkt in project test: HTTP 403"));
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/storage/v1/b?project=test");
  EXPECT_EQ(requests[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(Json::parse(requests[0].body), (Json{{"name", "bkt"}}));
  EXPECT_EQ(requests[1].target, "/storage/v1/b?project=my%20project");
}

// ---------------------------------------------------------------------------------------------
// Service-account keys: the token flow

TEST(GcsFakeServerTest, OneTokenServesManyCallsAsBearer) {
  FakeGcs fake([](const Recorded& rec) {
    if (rec.Header("Authorization") != "Bearer tok-1") {
      return Reply{401, R"({"error":{"code":401,"message":"Invalid Credentials"}})"};
    }
    if (rec.method == "GET" && rec.target.find("?alt=media") != std::string::npos) {
      return Reply{200, "v"};
    }
    if (rec.method == "GET") return Reply{200, R"({"items":[{"name":"k","size":"1"}]})"};
    return Reply{200, "{}"};
  });
  auto store = MakeStore(fake.ConfigWithKey());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put("k", "v").ok());
  EXPECT_EQ(*store->Get("k"), "v");
  EXPECT_EQ(Keys(*store->List("")), std::vector<std::string>{"k"});
  ASSERT_TRUE(store->Delete("k").ok());
  EXPECT_EQ(fake.requests().size(), 4u);
  auto tokens = fake.token_requests();
  ASSERT_EQ(tokens.size(), 1u);
  EXPECT_EQ(tokens[0].method, "POST");
  EXPECT_THAT(tokens[0].body,
              HasSubstr("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                        "&assertion="));
}

TEST(GcsFakeServerTest, ConcurrentCallsShareOneToken) {
  std::mutex mu;
  std::map<std::string, std::string> objects;
  FakeGcs fake([&](const Recorded& rec) {
    if (rec.Header("Authorization") != "Bearer tok-1") return Reply{401, "{}"};
    std::lock_guard<std::mutex> lock(mu);
    if (rec.method == "POST") {
      objects[rec.Query()["name"]] = rec.body;
      return Reply{200, "{}"};
    }
    std::string path = rec.target.substr(0, rec.target.find('?'));
    auto name = uri_util::PercentDecode(path.substr(std::string("/storage/v1/b/bkt/o/").size()));
    auto it = objects.find(*name);
    if (it == objects.end()) return Reply{404, kNotFound};
    return Reply{200, it->second};
  });
  auto store = MakeStore(fake.ConfigWithKey());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(PutAndGetConcurrently(*store, 4, 25), 0);
  EXPECT_EQ(fake.requests().size(), 200u);
  EXPECT_EQ(fake.token_requests().size(), 1u);
}

TEST(GcsFakeServerTest, TokenIsRenewedAMinuteBeforeItExpires) {
  FakeGcs fake([](const Recorded&) { return Reply{200, "{}"}; });
  fake.set_expires_in(59);  // Already inside the one-minute margin: each call renews it.
  auto store = MakeStore(fake.ConfigWithKey());
  ASSERT_TRUE(store->Put("a", "1").ok());
  ASSERT_TRUE(store->Put("b", "2").ok());
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].Header("Authorization"), "Bearer tok-1");
  EXPECT_EQ(requests[1].Header("Authorization"), "Bearer tok-2");
  EXPECT_EQ(fake.token_requests().size(), 2u);
}

TEST(GcsFakeServerTest, RefusedTokenIsReplacedOnce) {
  FakeGcs fake([](const Recorded& rec) {
    if (rec.Header("Authorization") == "Bearer tok-1") {
      return Reply{401, R"({"error":{"code":401,"message":"Invalid Credentials"}})"};
    }
    return Reply{200, "{}"};
  });
  auto store = MakeStore(fake.ConfigWithKey());
  ASSERT_TRUE(store->Put("k", "v").ok());
  auto requests = fake.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].Header("Authorization"), "Bearer tok-2");

  // A server that refuses every token: one renewal, then PermissionDenied.
  FakeGcs refusing([](const Recorded&) {
    return Reply{401, R"({"error":{"code":401,"message":"nope"}})"};
  });
  auto refused = MakeStore(refusing.ConfigWithKey());
  absl::Status status = refused->Put("k", "v");
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("GCS PUT gs://bkt/k: HTTP 401: nope"));
  EXPECT_THAT(status.message(), HasSubstr("check the service account in credentials_json"));
  EXPECT_EQ(refusing.requests().size(), 2u);
  EXPECT_EQ(refusing.token_requests().size(), 2u);
}

TEST(GcsFakeServerTest, WrongKeyIsPermissionDeniedNamingTheTokenUri) {
  FakeGcs fake([](const Recorded&) { return Reply{200, "{}"}; });
  // Signed with another key than the one the token endpoint knows for this account.
  auto store = MakeStore(fake.ConfigWithKey(OtherKey().pem));
  ASSERT_NE(store, nullptr);
  absl::Status put = store->Put("k", "v");
  EXPECT_TRUE(absl::IsPermissionDenied(put)) << put;
  EXPECT_THAT(put.message(),
              HasSubstr("GCS PUT gs://bkt/k: GCS token request to " + fake.token_uri() + " for " +
                        kClientEmail + ": HTTP 400 invalid_grant: Invalid JWT Signature."));
  EXPECT_THAT(put.message(), Not(HasSubstr("PRIVATE KEY")));
  std::string key_line = OtherKey().pem.substr(OtherKey().pem.find('\n') + 1, 40);
  EXPECT_THAT(put.message(), Not(HasSubstr(key_line)));
  EXPECT_TRUE(fake.requests().empty());         // Nothing reached storage without a token.
  EXPECT_EQ(fake.token_requests().size(), 1u);  // A refused key is not retried.
}

TEST(GcsFakeServerTest, UnavailableTokenEndpointIsRetriedThenUnavailable) {
  std::atomic<int> calls{0};
  FakeGcs fake(
      [](const Recorded&) {
        return Reply{200, "{}"};
      },
      [&](const Recorded&) {
        ++calls;
        return Reply{503, R"({"error":"temporarily_unavailable"})"};
      });
  GcsConfig config = fake.ConfigWithKey();
  config.max_attempts = 2;
  auto store = MakeStore(config);
  auto got = store->Get("k");
  EXPECT_TRUE(absl::IsUnavailable(got.status())) << got.status();
  EXPECT_THAT(got.status().message(),
              HasSubstr("GCS token request to " + fake.token_uri() + " for " + kClientEmail +
                        ": HTTP 503 temporarily_unavailable"));
  EXPECT_THAT(got.status().message(), HasSubstr("gave up after 2 attempts"));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_TRUE(fake.requests().empty());
}

TEST(GcsFakeServerTest, TokenAnswerWithoutAccessTokenIsAnError) {
  FakeGcs fake(
      [](const Recorded&) {
        return Reply{200, "{}"};
      },
      [](const Recorded&) {
        return Reply{200, R"({"token_type":"Bearer"})"};
      });
  auto store = MakeStore(fake.ConfigWithKey());
  absl::Status put = store->Put("k", "v");
  EXPECT_TRUE(absl::IsUnavailable(put)) << put;
  EXPECT_THAT(put.message(), HasSubstr("without an access_token"));
}

}  // namespace
}  // namespace optimus::blob
