// Sealing and opening secrets: round trips, fresh nonces, tampering and wrong keys detected,
// digests stable and value-blind, names upper-cased.
#include "optimus/secrets/secret_box.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace optimus::secrets {
namespace {

constexpr char kAppKey[] = "0123456789abcdef0123456789abcdef-and-more-is-ignored";

TEST(SecretBox, SealedValuesOpenAndHideTheValue) {
  auto box = SecretBox::FromAppKey(kAppKey);
  ASSERT_TRUE(box.ok()) << box.status();
  for (const std::string value : {std::string(), std::string("p@ss'w\"ord"),
                                  std::string(100000, 'x'), std::string("\0binary\xff", 8)}) {
    auto sealed = box->Seal(value);
    ASSERT_TRUE(sealed.ok());
    EXPECT_EQ(sealed->size(), value.size() + 28);
    if (value.size() > 4) EXPECT_EQ(sealed->find(value), std::string::npos);
    auto opened = box->Open(*sealed);
    ASSERT_TRUE(opened.ok()) << opened.status();
    EXPECT_EQ(*opened, value);
  }
  // A fresh nonce each time: the same value seals differently.
  EXPECT_NE(*box->Seal("same"), *box->Seal("same"));
}

TEST(SecretBox, TamperingAndOtherKeysAreDetected) {
  auto box = SecretBox::FromAppKey(kAppKey);
  std::string sealed = *box->Seal("the value");
  for (size_t i : {size_t{0}, size_t{12}, sealed.size() - 1}) {
    std::string changed = sealed;
    changed[i] = static_cast<char>(changed[i] ^ 1);
    EXPECT_EQ(box->Open(changed).status().code(), absl::StatusCode::kDataLoss) << "byte " << i;
  }
  auto other = SecretBox::FromAppKey("ffffffffffffffffffffffffffffffff");
  EXPECT_EQ(other->Open(sealed).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(box->Open("short").status().code(), absl::StatusCode::kDataLoss);
  // Only the first 32 bytes of the app key count, as in Optimus.
  auto same = SecretBox::FromAppKey("0123456789abcdef0123456789abcdefXYZ");
  EXPECT_EQ(*same->Open(sealed), "the value");
  EXPECT_EQ(SecretBox::FromAppKey("too short").status().message(),
            "the app key (secrets.app_key) must be at least 32 characters; it is 9");
}

TEST(SecretBox, DigestsAreStableAndValueBlind) {
  const std::string sealed = *SecretBox::FromAppKey(kAppKey)->Seal("v");
  EXPECT_EQ(Digest(sealed), Digest(sealed));
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(Digest(sealed), &raw));
  EXPECT_EQ(raw.size(), 32u);  // SHA-512/256
  EXPECT_NE(Digest(sealed), Digest(*SecretBox::FromAppKey(kAppKey)->Seal("v")));
}

TEST(SecretBox, NamesAreUpperCasedAndChecked) {
  EXPECT_EQ(*NormalizeName("bq_Service.account-1"), "BQ_SERVICE.ACCOUNT-1");
  EXPECT_EQ(NormalizeName("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NormalizeName("a b").status().message(),
            "secret name \"a b\": use letters, digits, '_', '-' and '.'");
}

}  // namespace
}  // namespace optimus::secrets
