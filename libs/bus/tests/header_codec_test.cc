// The header encoding keeps any bytes and rejects what it did not write.
#include "optimus/bus/header_codec.h"

#include "optimus/testing/testing.h"

namespace optimus::bus {
namespace {

TEST(HeaderCodecTest, RoundTripsAnyBytes) {
  const std::vector<Header> headers = {
      {"ce_id", "abc"}, {"", ""}, {std::string("n\0\xff", 3), std::string(300, '\x80')}};
  auto decoded = DecodeHeaders(EncodeHeaders(headers));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(*decoded, headers);
  auto empty = DecodeHeaders(EncodeHeaders({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(HeaderCodecTest, RejectsTruncatedAndTrailingBytes) {
  const std::string encoded = EncodeHeaders({{"name", "value"}});
  EXPECT_EQ(DecodeHeaders(encoded.substr(0, encoded.size() - 1)).status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeHeaders(encoded + "x").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeHeaders("").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeHeaders("\xff\xff\xff").status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace optimus::bus
