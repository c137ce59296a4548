// A deliberately small reader for S3's flat, attribute-free XML answers (no general XML parser).
#include "s3_xml.h"

#include <charconv>
#include <optional>

#include "absl/status/status.h"

namespace optimus::blob::s3xml {
namespace {

struct Element {
  std::string_view content;  // Raw text between the tags, entities still escaped.
  size_t end = 0;            // Offset just past the closing tag.
};

// The first <tag>...</tag> (or <tag/>) at or after `from`. Tags in S3 answers never nest in
// themselves, so the first closing tag closes it.
std::optional<Element> FindElement(std::string_view xml, std::string_view tag, size_t from = 0) {
  std::string open = "<" + std::string(tag);
  size_t pos = from;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    size_t after = pos + open.size();
    if (after >= xml.size()) return std::nullopt;
    char next = xml[after];
    if (next != '>' && next != '/' && next != ' ' && next != '\t' && next != '\r' && next != '\n') {
      pos = after;  // A longer name that starts with `tag`, e.g. <KeyCount> for <Key>.
      continue;
    }
    size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) return std::nullopt;
    if (xml[gt - 1] == '/') return Element{std::string_view(), gt + 1};
    std::string close = "</" + std::string(tag) + ">";
    size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) return std::nullopt;
    return Element{xml.substr(gt + 1, end - gt - 1), end + close.size()};
  }
  return std::nullopt;
}

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

absl::StatusOr<std::string> XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '&') {
      out.push_back(c);
      ++i;
      continue;
    }
    size_t semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12) {
      return absl::InvalidArgumentError("unterminated XML entity at offset " + std::to_string(i) +
                                        " in \"" + std::string(text) + "\"");
    }
    std::string_view name = text.substr(i + 1, semi - i - 1);
    if (name == "amp") {
      out.push_back('&');
    } else if (name == "lt") {
      out.push_back('<');
    } else if (name == "gt") {
      out.push_back('>');
    } else if (name == "quot") {
      out.push_back('"');
    } else if (name == "apos") {
      out.push_back('\'');
    } else if (name.size() >= 2 && name[0] == '#') {
      bool hex = name[1] == 'x' || name[1] == 'X';
      std::string_view digits = name.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      auto [end, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || cp == 0 ||
          cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        return absl::InvalidArgumentError("invalid XML character reference &" + std::string(name) +
                                          ";");
      }
      AppendUtf8(cp, out);
    } else {
      return absl::InvalidArgumentError("unknown XML entity &" + std::string(name) + ";");
    }
    i = semi + 1;
  }
  return out;
}

absl::StatusOr<ListPage> ParseListObjectsV2(std::string_view xml) {
  auto root = FindElement(xml, "ListBucketResult");
  if (!root) {
    return absl::InvalidArgumentError(
        "S3 list answer has no <ListBucketResult> element; is the endpoint an S3 server? "
        "Answer starts with: " +
        std::string(xml.substr(0, 200)));
  }
  std::string_view body = root->content;
  ListPage page;
  size_t pos = 0;
  while (auto contents = FindElement(body, "Contents", pos)) {
    pos = contents->end;
    auto key = FindElement(contents->content, "Key");
    if (!key) return absl::InvalidArgumentError("S3 list answer has a <Contents> without <Key>");
    auto unescaped = XmlUnescape(key->content);
    if (!unescaped.ok()) {
      return absl::InvalidArgumentError("S3 list answer has a bad <Key>: " +
                                        std::string(unescaped.status().message()));
    }
    ObjectInfo info;
    info.key = *std::move(unescaped);
    if (auto size = FindElement(contents->content, "Size")) {
      std::string digits = Trim(size->content);
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), info.size);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
          info.size < 0) {
        return absl::InvalidArgumentError("S3 list answer has a bad <Size> \"" + digits +
                                          "\" for key " + info.key);
      }
    }
    page.objects.push_back(std::move(info));
  }
  if (auto truncated = FindElement(body, "IsTruncated")) {
    std::string value = Trim(truncated->content);
    if (value == "true") {
      page.truncated = true;
    } else if (value != "false") {
      return absl::InvalidArgumentError("S3 list answer has <IsTruncated>" + value +
                                        "</IsTruncated>; expected true or false");
    }
  }
  if (page.truncated) {
    auto token = FindElement(body, "NextContinuationToken");
    if (!token || Trim(token->content).empty()) {
      return absl::InvalidArgumentError(
          "S3 list answer is truncated but has no <NextContinuationToken>; the server does not "
          "speak ListObjectsV2 (list-type=2)");
    }
    auto unescaped = XmlUnescape(Trim(token->content));
    if (!unescaped.ok()) return unescaped.status();
    page.next_continuation_token = *std::move(unescaped);
  }
  return page;
}

ErrorBody ParseError(std::string_view xml) {
  ErrorBody out;
  auto error = FindElement(xml, "Error");
  if (!error) return out;
  // An undecodable field is still worth showing raw rather than hiding the server's words.
  if (auto code = FindElement(error->content, "Code")) {
    auto text = XmlUnescape(code->content);
    out.code = text.ok() ? *text : std::string(code->content);
  }
  if (auto message = FindElement(error->content, "Message")) {
    auto text = XmlUnescape(message->content);
    out.message = text.ok() ? *text : std::string(message->content);
  }
  return out;
}

}  // namespace optimus::blob::s3xml
