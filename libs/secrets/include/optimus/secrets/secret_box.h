// Secret values at rest and on the bus: sealed with AES-256-GCM under the server's app key,
// the layout Optimus uses (a random 12-byte nonce, then the ciphertext and its 16-byte tag),
// so a sealed value reveals nothing and any change to it is detected when it is opened.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace optimus::secrets {

class SecretBox {
 public:
  // The key is the first 32 bytes of the app key (Optimus's serve.app_key); a shorter app key
  // is refused.
  static absl::StatusOr<SecretBox> FromAppKey(std::string_view app_key);

  // nonce || ciphertext || tag; a fresh random nonce each time.
  absl::StatusOr<std::string> Seal(std::string_view plaintext) const;
  // The plaintext; DataLoss when the value was changed or sealed under another key.
  absl::StatusOr<std::string> Open(std::string_view sealed) const;

 private:
  explicit SecretBox(std::string key) : key_(std::move(key)) {}
  std::string key_;  // 32 bytes
};

// What `secret list` shows instead of a value: base64 of HMAC-SHA512/256 keyed with
// "user defined secrets" over the sealed value (Optimus's digest). It changes with every
// update, and says nothing about the value.
std::string Digest(std::string_view sealed);

// A secret's name as stored: upper-cased. InvalidArgument for an empty name or one with
// characters other than letters, digits, '_', '-' and '.'.
absl::StatusOr<std::string> NormalizeName(std::string_view name);

}  // namespace optimus::secrets
