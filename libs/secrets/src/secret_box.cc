// AES-256-GCM with OpenSSL's EVP interface; HMAC-SHA512/256 for digests.
#include "optimus/secrets/secret_box.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cctype>
#include <memory>

#include "absl/strings/escaping.h"

namespace optimus::secrets {
namespace {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

absl::StatusOr<SecretBox> SecretBox::FromAppKey(std::string_view app_key) {
  if (app_key.size() < kKeyBytes) {
    return absl::FailedPreconditionError(
        "the app key (secrets.app_key) must be at least 32 characters; it is " +
        std::to_string(app_key.size()));
  }
  return SecretBox(std::string(app_key.substr(0, kKeyBytes)));
}

absl::StatusOr<std::string> SecretBox::Seal(std::string_view plaintext) const {
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(bytes, kNonceBytes) != 1)
    return absl::InternalError("no random bytes for a nonce");
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int n = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key_), bytes) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes + kNonceBytes, &n, Bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes + kNonceBytes + n, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          bytes + kNonceBytes + plaintext.size()) != 1) {
    return absl::InternalError("AES-256-GCM sealing failed");
  }
  return out;
}

absl::StatusOr<std::string> SecretBox::Open(std::string_view sealed) const {
  if (sealed.size() < kNonceBytes + kTagBytes) {
    return absl::DataLossError("a sealed secret is too short to hold a nonce and a tag");
  }
  const size_t length = sealed.size() - kNonceBytes - kTagBytes;
  std::string out(length, '\0');
  auto* plain = reinterpret_cast<unsigned char*>(out.data());
  std::string tag(sealed.substr(kNonceBytes + length));
  CipherContext ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int n = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, Bytes(key_), Bytes(sealed)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plain, &n, Bytes(sealed) + kNonceBytes,
                        static_cast<int>(length)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), plain + n, &n) != 1) {
    return absl::DataLossError(
        "a sealed secret does not open: it was changed, or sealed under another app key");
  }
  return out;
}

std::string Digest(std::string_view sealed) {
  static constexpr std::string_view kKey = "user defined secrets";
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha512_256(), kKey.data(), static_cast<int>(kKey.size()), Bytes(sealed), sealed.size(),
       mac, &length);
  return absl::Base64Escape(std::string(reinterpret_cast<const char*>(mac), length));
}

absl::StatusOr<std::string> NormalizeName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("a secret needs a name");
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '_' && c != '-' && c != '.') {
      return absl::InvalidArgumentError("secret name \"" + std::string(name) +
                                        "\": use letters, digits, '_', '-' and '.'");
    }
    out += static_cast<char>(std::toupper(u));
  }
  return out;
}

}  // namespace optimus::secrets
