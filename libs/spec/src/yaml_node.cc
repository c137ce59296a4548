// Builds a YamlNode tree from libyaml's event stream.
#include "yaml_node.h"

#include <yaml.h>

#include <map>
#include <memory>
#include <optional>

namespace optimus::spec::internal {
namespace {

constexpr size_t kMaxDepth = 200;            // deeper documents are refused, not recursed into
constexpr size_t kMaxAliasWeight = 200'000;  // nodes that aliases may copy in one document

bool IsNullText(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::string Text(const yaml_char_t* text) {
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
}

// Applies `<<` merge keys: entries of the merged maps that the map does not set itself.
void ApplyMerges(YamlNode& map, const std::vector<YamlNode>& merges) {
  for (const YamlNode& source : merges) {
    for (const auto& [key, value] : source.entries()) {
      if (key.IsScalar() && map[key.Scalar()].IsDefined()) continue;
      map.Append(key, value);
    }
  }
}

struct Frame {
  YamlNode node;
  std::string anchor;
  std::optional<YamlNode> key;  // a map's key waiting for its value
  std::vector<YamlNode> merges;
};

class Builder {
 public:
  // Adds a finished node to the collection being built, or makes it the root.
  std::optional<YamlError> Add(YamlNode node, const std::string& anchor) {
    if (!anchor.empty()) anchors_[anchor] = node;
    if (stack_.empty()) {
      root_ = std::move(node);
      return std::nullopt;
    }
    Frame& top = stack_.back();
    if (top.node.IsSequence()) {
      top.node.Append(std::move(node));
      return std::nullopt;
    }
    if (!top.key) {
      top.key = std::move(node);
      return std::nullopt;
    }
    YamlNode key = std::move(*top.key);
    top.key.reset();
    if (key.IsScalar() && !key.quoted() && key.Scalar() == "<<") {
      if (node.IsMap()) {
        top.merges.push_back(std::move(node));
        return std::nullopt;
      }
      if (node.IsSequence()) {
        bool all_maps = true;
        for (const YamlNode& item : node.items()) all_maps = all_maps && item.IsMap();
        if (all_maps) {
          for (const YamlNode& item : node.items()) top.merges.push_back(item);
          return std::nullopt;
        }
      }
    }
    top.node.Append(std::move(key), std::move(node));
    return std::nullopt;
  }

  std::optional<YamlError> Open(YamlNode node, std::string anchor) {
    if (stack_.size() >= kMaxDepth) {
      return YamlError{"nested more than " + std::to_string(kMaxDepth) + " levels deep",
                       node.line(), node.column()};
    }
    stack_.push_back(Frame{std::move(node), std::move(anchor), std::nullopt, {}});
    return std::nullopt;
  }

  std::optional<YamlError> Close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    ApplyMerges(frame.node, frame.merges);
    return Add(std::move(frame.node), frame.anchor);
  }

  std::optional<YamlError> Alias(const std::string& anchor, int line, int column) {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) {
      return YamlError{"unknown alias *" + anchor + " (an anchor &" + anchor + " must come first)",
                       line, column};
    }
    alias_weight_ += it->second.Weight();
    if (alias_weight_ > kMaxAliasWeight) {
      return YamlError{"aliases expand to more than " + std::to_string(kMaxAliasWeight) + " nodes",
                       line, column};
    }
    return Add(it->second, "");
  }

  YamlNode TakeRoot() { return std::move(root_); }

 private:
  std::vector<Frame> stack_;
  std::map<std::string, YamlNode> anchors_;
  size_t alias_weight_ = 0;
  YamlNode root_;
};

struct ParserDeleter {
  void operator()(yaml_parser_t* p) const {
    yaml_parser_delete(p);
    delete p;
  }
};

YamlError ParserError(const yaml_parser_t& parser) {
  std::string message = parser.problem != nullptr ? parser.problem : "cannot parse";
  int line = static_cast<int>(parser.problem_mark.line) + 1;
  int column = static_cast<int>(parser.problem_mark.column) + 1;
  if (parser.context != nullptr) {
    message += " (" + std::string(parser.context) + " at line " +
               std::to_string(parser.context_mark.line + 1) + ", column " +
               std::to_string(parser.context_mark.column + 1) + ")";
  }
  if (parser.error == YAML_READER_ERROR) {
    // Reader errors (bad encoding) carry a byte offset, not a mark.
    line = 0;
    column = 0;
    message += " at byte " + std::to_string(parser.problem_offset);
  }
  return YamlError{std::move(message), line, column};
}

}  // namespace

YamlNode YamlNode::Scalar(std::string value, bool quoted, int line, int column) {
  YamlNode n;
  n.kind_ = !quoted && IsNullText(value) ? Kind::kNull : Kind::kScalar;
  n.quoted_ = quoted;
  n.scalar_ = std::move(value);
  n.line_ = line;
  n.column_ = column;
  return n;
}

YamlNode YamlNode::Sequence(int line, int column) {
  YamlNode n;
  n.kind_ = Kind::kSequence;
  n.line_ = line;
  n.column_ = column;
  return n;
}

YamlNode YamlNode::Map(int line, int column) {
  YamlNode n;
  n.kind_ = Kind::kMap;
  n.line_ = line;
  n.column_ = column;
  return n;
}

const YamlNode& YamlNode::Undefined() {
  static const YamlNode* const kUndefined = new YamlNode();
  return *kUndefined;
}

size_t YamlNode::size() const {
  if (kind_ == Kind::kSequence) return items_.size();
  if (kind_ == Kind::kMap) return entries_.size();
  return 0;
}

const YamlNode& YamlNode::operator[](size_t index) const {
  if (kind_ != Kind::kSequence || index >= items_.size()) return Undefined();
  return items_[index];
}

const YamlNode& YamlNode::operator[](std::string_view key) const {
  if (kind_ != Kind::kMap) return Undefined();
  for (const Entry& e : entries_) {
    if ((e.first.IsScalar() || e.first.IsNull()) && e.first.scalar_ == key) return e.second;
  }
  return Undefined();
}

void YamlNode::Append(YamlNode key, YamlNode value) {
  entries_.emplace_back(std::move(key), std::move(value));
}

size_t YamlNode::Weight() const {
  size_t n = 1;
  for (const YamlNode& item : items_) n += item.Weight();
  for (const Entry& e : entries_) n += e.first.Weight() + e.second.Weight();
  return n;
}

std::string YamlNode::Dump() const {
  switch (kind_) {
    case Kind::kScalar:
    case Kind::kNull:
      return scalar_;
    case Kind::kSequence: {
      std::string out = "[";
      for (size_t i = 0; i < items_.size(); ++i) out += (i ? ", " : "") + items_[i].Dump();
      return out + "]";
    }
    case Kind::kMap: {
      std::string out = "{";
      for (size_t i = 0; i < entries_.size(); ++i) {
        out += (i ? ", " : "") + entries_[i].first.Dump() + ": " + entries_[i].second.Dump();
      }
      return out + "}";
    }
    default:
      return "";
  }
}

std::variant<YamlNode, YamlError> ParseYaml(std::string_view content) {
  std::unique_ptr<yaml_parser_t, ParserDeleter> parser(new yaml_parser_t);
  if (yaml_parser_initialize(parser.get()) == 0) {
    delete parser.release();
    return YamlError{"out of memory", 0, 0};
  }
  yaml_parser_set_input_string(parser.get(), reinterpret_cast<const unsigned char*>(content.data()),
                               content.size());
  Builder builder;
  bool in_document = false;
  for (;;) {
    yaml_event_t event;
    if (yaml_parser_parse(parser.get(), &event) == 0) return ParserError(*parser);
    std::unique_ptr<yaml_event_t, decltype(&yaml_event_delete)> owned(&event, &yaml_event_delete);
    const int line = static_cast<int>(event.start_mark.line) + 1;
    const int column = static_cast<int>(event.start_mark.column) + 1;
    std::optional<YamlError> error;
    switch (event.type) {
      case YAML_DOCUMENT_START_EVENT:
        in_document = true;
        break;
      case YAML_DOCUMENT_END_EVENT:
      case YAML_STREAM_END_EVENT:
        // Later documents of a stream are not specs: the first one is the file's content.
        if (in_document || event.type == YAML_STREAM_END_EVENT) {
          YamlNode root = builder.TakeRoot();
          if (!root.IsDefined()) root = YamlNode::Scalar("", false, 0, 0);
          return root;
        }
        break;
      case YAML_SCALAR_EVENT: {
        const auto& s = event.data.scalar;
        const std::string tag = Text(s.tag);
        const bool quoted = s.style != YAML_PLAIN_SCALAR_STYLE || tag == "!" ||
                            tag == "tag:yaml.org,2002:str" ||
                            (!tag.empty() && tag != "tag:yaml.org,2002:null" && !s.plain_implicit);
        error = builder.Add(
            YamlNode::Scalar(std::string(reinterpret_cast<const char*>(s.value), s.length), quoted,
                             line, column),
            Text(s.anchor));
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
        error =
            builder.Open(YamlNode::Sequence(line, column), Text(event.data.sequence_start.anchor));
        break;
      case YAML_MAPPING_START_EVENT:
        error = builder.Open(YamlNode::Map(line, column), Text(event.data.mapping_start.anchor));
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        error = builder.Close();
        break;
      case YAML_ALIAS_EVENT:
        error = builder.Alias(Text(event.data.alias.anchor), line, column);
        break;
      default:
        break;
    }
    if (error) return *error;
  }
}

}  // namespace optimus::spec::internal
