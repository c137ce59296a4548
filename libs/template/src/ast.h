// The parse tree of a template, shared by the parser and the executor.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "optimus/template/template.h"
#include "optimus/template/value.h"

namespace optimus::tmpl::internal {

// The text a tree was parsed from; positions are byte offsets into it.
struct Source {
  std::string file;  // The name given to Parse (Go's ParseName).
  std::string text;
  // 1-based line and column of a byte offset.
  std::pair<int, int> LineCol(int offset) const;
};

struct Pipe;

enum class ArgType { kField, kChain, kVariable, kDot, kNil, kBool, kNumber, kString, kFunc, kPipe };

struct Arg {
  ArgType type = ArgType::kDot;
  int pos = 0;
  std::string text;                 // Source text, for error context.
  std::string name;                 // kVariable: "$x"; kFunc: function name.
  std::vector<std::string> fields;  // kField/kVariable/kChain: trailing .a.b
  Value constant;                   // kBool/kNumber/kString.
  const Function* func = nullptr;   // kFunc, resolved at parse time.
  std::unique_ptr<Pipe> pipe;       // kPipe: a parenthesized pipeline.
  std::unique_ptr<Arg> base;        // kChain: the term whose fields are taken.
};

struct Command {
  int pos = 0;
  std::string text;
  std::vector<Arg> args;
};

struct Pipe {
  int pos = 0;
  std::string text;
  bool is_assign = false;
  std::vector<std::string> decl;  // Variables declared (:=) or assigned (=).
  std::vector<Command> cmds;
};

enum class NodeType { kText, kAction, kIf, kRange, kWith, kTemplate, kBreak, kContinue };

struct Node;
using NodeList = std::vector<std::unique_ptr<Node>>;

struct Node {
  NodeType type = NodeType::kText;
  int pos = 0;
  std::string text;            // kText: the text; others: the action source, for context.
  std::unique_ptr<Pipe> pipe;  // kAction, kIf, kRange, kWith, kTemplate (may be null).
  NodeList list;               // Body of if/range/with.
  NodeList else_list;
  bool has_else = false;
  std::string template_name;  // kTemplate.
};

struct Tree {
  std::string name;
  std::shared_ptr<const Source> source;
  NodeList root;
};

bool IsEmptyTree(const NodeList& list);

// Parses `text` as template `name`; the result holds the named tree first, then one tree per
// {{define}} and {{block}}. Functions are looked up in `funcs`.
absl::StatusOr<std::vector<std::unique_ptr<Tree>>> ParseTrees(std::string_view name,
                                                              std::string_view text,
                                                              const FuncMap& funcs);

}  // namespace optimus::tmpl::internal
