// Lexer and recursive-descent parser for Go's text/template syntax.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ast.h"
#include "go_fmt.h"

namespace optimus::tmpl::internal {

std::pair<int, int> Source::LineCol(int offset) const {
  int line = 1;
  int col = 1;
  for (int i = 0; i < offset && i < static_cast<int>(text.size()); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

bool IsEmptyTree(const NodeList& list) {
  for (const auto& n : list) {
    if (n->type != NodeType::kText) return false;
    if (n->text.find_first_not_of(" \t\r\n") != std::string::npos) return false;
  }
  return true;
}

namespace {

constexpr std::string_view kLeft = "{{";
constexpr std::string_view kRight = "}}";
constexpr int kMaxDepth = 200;  // Nested parentheses and control structures.

enum class Tok {
  kText,
  kLeftDelim,
  kRightDelim,
  kSpace,
  kIdentifier,
  kKeyword,
  kField,
  kDot,
  kVariable,
  kDeclare,
  kAssign,
  kPipe,
  kLeftParen,
  kRightParen,
  kString,
  kRawString,
  kCharConst,
  kNumber,
  kBool,
  kNil,
  kChar,
  kEOF,
  kError
};

struct Token {
  Tok type;
  int pos;
  std::string val;
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsAlnum(char c) {
  return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         static_cast<unsigned char>(c) >= 0x80;  // Go allows Unicode letters; accept UTF-8.
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

constexpr std::string_view kKeywords[] = {"block", "break", "continue", "define",   "else",
                                          "end",   "if",    "range",    "template", "with"};

// Splits the whole input into tokens; a lexing error ends the stream with a kError token.
class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  std::vector<Token> Run() {
    while (true) {
      if (!LexText()) break;
    }
    return std::move(tokens_);
  }

 private:
  void Emit(Tok t, int pos, std::string val) { tokens_.push_back({t, pos, std::move(val)}); }
  bool Error(int pos, std::string msg) {
    Emit(Tok::kError, pos, std::move(msg));
    return false;
  }

  // Text up to the next "{{", then the action; returns false at the end of input.
  bool LexText() {
    size_t x = in_.find(kLeft, pos_);
    if (x == std::string_view::npos) {
      if (pos_ < in_.size()) Emit(Tok::kText, pos_, std::string(in_.substr(pos_)));
      Emit(Tok::kEOF, in_.size(), "");
      return false;
    }
    size_t end = x;
    bool trim = x + 3 < in_.size() && in_[x + 2] == '-' && IsSpace(in_[x + 3]);
    if (trim)
      while (end > pos_ && IsSpace(in_[end - 1])) --end;
    if (end > pos_) Emit(Tok::kText, pos_, std::string(in_.substr(pos_, end - pos_)));
    pos_ = x + 2 + (trim ? 2 : 0);
    if (in_.substr(pos_, 2) == "/*") return LexComment(x);
    Emit(Tok::kLeftDelim, x, std::string(kLeft));
    return LexInsideAction(x);
  }

  // Returns 0 when not at a right delimiter, else its length (2, or 4 with " -").
  size_t AtRightDelim(bool* trim) const {
    if (in_.substr(pos_, 2) == kRight) {
      *trim = false;
      return 2;
    }
    if (pos_ + 4 <= in_.size() && IsSpace(in_[pos_]) && in_[pos_ + 1] == '-' &&
        in_.substr(pos_ + 2, 2) == kRight) {
      *trim = true;
      return 4;
    }
    return 0;
  }

  void SkipAfterRight(bool trim) {
    if (trim)
      while (pos_ < in_.size() && IsSpace(in_[pos_])) ++pos_;
  }

  bool LexComment(size_t left) {
    size_t close = in_.find("*/", pos_ + 2);
    if (close == std::string_view::npos) return Error(left, "unclosed comment");
    pos_ = close + 2;
    bool trim = false;
    size_t n = AtRightDelim(&trim);
    if (n == 0) return Error(pos_, "comment ends before closing delimiter");
    pos_ += n;
    SkipAfterRight(trim);
    return true;
  }

  bool LexInsideAction(size_t left) {
    int paren_depth = 0;
    while (true) {
      bool trim = false;
      if (size_t n = AtRightDelim(&trim); n > 0) {
        if (paren_depth > 0) return Error(pos_, "unclosed left paren");
        Emit(Tok::kRightDelim, pos_ + (trim ? 2 : 0), std::string(kRight));
        pos_ += n;
        SkipAfterRight(trim);
        return true;
      }
      if (pos_ >= in_.size()) return Error(left, "unclosed action");
      int start = pos_;
      char c = in_[pos_];
      if (IsSpace(c)) {
        // Stop before a space that begins a " -}}" delimiter.
        while (pos_ < in_.size() && IsSpace(in_[pos_])) {
          bool t;
          if (AtRightDelim(&t) == 4) break;
          ++pos_;
        }
        if (pos_ > static_cast<size_t>(start)) Emit(Tok::kSpace, start, " ");
        continue;
      }
      ++pos_;
      switch (c) {
        case '=':
          Emit(Tok::kAssign, start, "=");
          continue;
        case ':':
          if (pos_ >= in_.size() || in_[pos_] != '=') return Error(start, "expected :=");
          ++pos_;
          Emit(Tok::kDeclare, start, ":=");
          continue;
        case '|':
          Emit(Tok::kPipe, start, "|");
          continue;
        case '"':
        case '\'': {
          while (true) {
            if (pos_ >= in_.size() || in_[pos_] == '\n')
              return Error(start, c == '"' ? "unterminated quoted string"
                                           : "unterminated character constant");
            char d = in_[pos_++];
            if (d == '\\') {
              if (pos_ >= in_.size() || in_[pos_] == '\n')
                return Error(start, c == '"' ? "unterminated quoted string"
                                             : "unterminated character constant");
              ++pos_;
            } else if (d == c) {
              break;
            }
          }
          Emit(c == '"' ? Tok::kString : Tok::kCharConst, start,
               std::string(in_.substr(start, pos_ - start)));
          continue;
        }
        case '`': {
          size_t close = in_.find('`', pos_);
          if (close == std::string_view::npos)
            return Error(start, "unterminated raw quoted string");
          pos_ = close + 1;
          Emit(Tok::kRawString, start, std::string(in_.substr(start, pos_ - start)));
          continue;
        }
        case '$': {
          while (pos_ < in_.size() && IsAlnum(in_[pos_])) ++pos_;
          Emit(Tok::kVariable, start, std::string(in_.substr(start, pos_ - start)));
          continue;
        }
        case '(':
          ++paren_depth;
          Emit(Tok::kLeftParen, start, "(");
          continue;
        case ')':
          if (--paren_depth < 0) return Error(start, "unexpected right paren");
          Emit(Tok::kRightParen, start, ")");
          continue;
        default:
          break;
      }
      if (c == '.' && (pos_ >= in_.size() || !IsDigit(in_[pos_]))) {
        if (pos_ < in_.size() && IsAlnum(in_[pos_])) {
          while (pos_ < in_.size() && IsAlnum(in_[pos_])) ++pos_;
          Emit(Tok::kField, start, std::string(in_.substr(start, pos_ - start)));
        } else {
          Emit(Tok::kDot, start, ".");
        }
        continue;
      }
      if (c == '.' || c == '+' || c == '-' || IsDigit(c)) {
        if ((c == '+' || c == '-') &&
            (pos_ >= in_.size() || !(IsDigit(in_[pos_]) || in_[pos_] == '.')))
          return Error(start, absl::StrCat("bad number syntax: \"", std::string(1, c), "\""));
        while (pos_ < in_.size()) {
          char d = in_[pos_];
          bool exp_sign = (d == '+' || d == '-') && (in_[pos_ - 1] == 'e' || in_[pos_ - 1] == 'E' ||
                                                     in_[pos_ - 1] == 'p' || in_[pos_ - 1] == 'P');
          if (IsAlnum(d) || d == '.' || exp_sign) {
            ++pos_;
          } else {
            break;
          }
        }
        Emit(Tok::kNumber, start, std::string(in_.substr(start, pos_ - start)));
        continue;
      }
      if (IsAlnum(c)) {
        while (pos_ < in_.size() && IsAlnum(in_[pos_])) ++pos_;
        std::string word(in_.substr(start, pos_ - start));
        if (word == "true" || word == "false") {
          Emit(Tok::kBool, start, word);
        } else if (word == "nil") {
          Emit(Tok::kNil, start, word);
        } else if (std::find(std::begin(kKeywords), std::end(kKeywords), word) !=
                   std::end(kKeywords)) {
          Emit(Tok::kKeyword, start, word);
        } else {
          Emit(Tok::kIdentifier, start, word);
        }
        continue;
      }
      if (static_cast<unsigned char>(c) < 0x7F && c >= 0x20) {
        Emit(Tok::kChar, start, std::string(1, c));
        continue;
      }
      char buf[64];
      std::snprintf(buf, sizeof buf, "unrecognized character in action: U+%04X",
                    static_cast<unsigned>(static_cast<unsigned char>(c)));
      return Error(start, buf);
    }
  }

  std::string_view in_;
  size_t pos_ = 0;
  std::vector<Token> tokens_;
};

// Go's strconv.Unquote for "..." and '...' (the quotes included in `q`).
absl::StatusOr<std::string> Unquote(std::string_view q) {
  std::string out;
  for (size_t i = 1; i + 1 < q.size(); ++i) {
    char c = q[i];
    if (c != '\\') {
      out += c;
      continue;
    }
    if (++i >= q.size() - 1) return absl::InvalidArgumentError("bad escape");
    char e = q[i];
    auto hex = [&](int n) -> absl::StatusOr<uint32_t> {
      uint32_t v = 0;
      for (int k = 0; k < n; ++k) {
        if (++i >= q.size() - 1) return absl::InvalidArgumentError("bad escape");
        char h = q[i];
        int d = IsDigit(h)               ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                         : -1;
        if (d < 0) return absl::InvalidArgumentError("bad escape");
        v = v * 16 + d;
      }
      return v;
    };
    switch (e) {
      case 'a':
        out += '\a';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'v':
        out += '\v';
        break;
      case '\\':
        out += '\\';
        break;
      case '"':
      case '\'':
        if (e != q[0]) return absl::InvalidArgumentError("bad escape");
        out += e;
        break;
      case 'x': {
        auto v = hex(2);
        if (!v.ok()) return v.status();
        out += static_cast<char>(*v);
        break;
      }
      case 'u':
      case 'U': {
        auto v = hex(e == 'u' ? 4 : 8);
        if (!v.ok()) return v.status();
        if (*v > 0x10FFFF || (*v >= 0xD800 && *v <= 0xDFFF))
          return absl::InvalidArgumentError("bad escape");
        uint32_t r = *v;
        if (r < 0x80) {
          out += static_cast<char>(r);
        } else if (r < 0x800) {
          out += static_cast<char>(0xC0 | (r >> 6));
          out += static_cast<char>(0x80 | (r & 0x3F));
        } else if (r < 0x10000) {
          out += static_cast<char>(0xE0 | (r >> 12));
          out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (r & 0x3F));
        } else {
          out += static_cast<char>(0xF0 | (r >> 18));
          out += static_cast<char>(0x80 | ((r >> 12) & 0x3F));
          out += static_cast<char>(0x80 | ((r >> 6) & 0x3F));
          out += static_cast<char>(0x80 | (r & 0x3F));
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0';
          for (int k = 0; k < 2; ++k) {
            if (++i >= q.size() - 1 || q[i] < '0' || q[i] > '7')
              return absl::InvalidArgumentError("bad escape");
            v = v * 8 + (q[i] - '0');
          }
          if (v > 255) return absl::InvalidArgumentError("bad escape");
          out += static_cast<char>(v);
          break;
        }
        return absl::InvalidArgumentError("bad escape");
    }
  }
  return out;
}

// A Go number literal: ints (decimal, 0x, 0o, 0b, leading-0 octal, '_' separators) become
// int, anything with '.', or a decimal exponent, becomes float64.
absl::StatusOr<Value> ParseNumber(const std::string& text) {
  std::string t;
  for (char c : text)
    if (c != '_') t += c;
  auto bad = absl::InvalidArgumentError(absl::StrCat("bad number syntax: \"", text, "\""));
  if (t.empty()) return bad;
  bool neg = t[0] == '-';
  std::string body = (t[0] == '-' || t[0] == '+') ? t.substr(1) : t;
  if (body.empty()) return bad;
  int base = 10;
  std::string digits = body;
  if (body.size() > 1 && body[0] == '0') {
    char p = body[1];
    if (p == 'x' || p == 'X')
      base = 16, digits = body.substr(2);
    else if (p == 'o' || p == 'O')
      base = 8, digits = body.substr(2);
    else if (p == 'b' || p == 'B')
      base = 2, digits = body.substr(2);
    else if (body.find_first_of(".eE") == std::string::npos)
      base = 8, digits = body.substr(1);
  }
  if (base != 10 || body.find_first_of(".eE") == std::string::npos) {
    if (digits.empty()) return bad;
    errno = 0;
    char* end = nullptr;
    unsigned long long u = std::strtoull(digits.c_str(), &end, base);
    if (*end != '\0' || digits[0] == '-' || digits[0] == '+') return bad;
    if (errno == ERANGE ||
        u > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()) + (neg ? 1 : 0))
      return absl::InvalidArgumentError(absl::StrCat(text, " overflows int"));
    return Value(neg ? static_cast<int64_t>(0 - u) : static_cast<int64_t>(u));
  }
  char* end = nullptr;
  double d = std::strtod(t.c_str(), &end);
  if (*end != '\0' || t.find_first_of("xXpPiInN") != std::string::npos) return bad;
  return Value(d);
}

class Parser {
 public:
  Parser(std::shared_ptr<const Source> src, const FuncMap& funcs, std::vector<Token> tokens)
      : src_(std::move(src)), funcs_(funcs), toks_(std::move(tokens)) {}

  absl::StatusOr<std::vector<std::unique_ptr<Tree>>> Run() {
    auto main = std::make_unique<Tree>();
    main->name = src_->file;
    main->source = src_;
    trees_.push_back(nullptr);  // Slot for the main tree, filled at the end.
    vars_ = {"$"};
    while (Peek().type != Tok::kEOF) {
      if (Peek().type == Tok::kError) return Fail(Peek().pos, Peek().val);
      if (Peek().type == Tok::kLeftDelim) {
        size_t save = idx_;
        Next();
        const Token& t = NextNonSpace();
        if (t.type == Tok::kKeyword && t.val == "define") {
          if (auto s = ParseDefinition(); !s.ok()) return s;
          continue;
        }
        if (!status_.ok()) return status_;
        idx_ = save;
      }
      std::unique_ptr<Node> n;
      int end_kind = 0;
      if (auto s = TextOrAction(&n, &end_kind); !s.ok()) return s;
      if (end_kind == 1) return Fail(last_action_pos_, "unexpected {{end}}");
      if (end_kind == 2) return Fail(last_action_pos_, "unexpected {{else}}");
      main->root.push_back(std::move(n));
    }
    trees_[0] = std::move(main);
    return std::move(trees_);
  }

 private:
  const Token& Peek() { return toks_[std::min(idx_, toks_.size() - 1)]; }
  const Token& Next() {
    const Token& t = toks_[std::min(idx_, toks_.size() - 1)];
    if (idx_ < toks_.size()) ++idx_;
    last_pos_ = t.pos;
    if (t.type == Tok::kError && status_.ok()) status_ = Err(t.pos, t.val);
    return t;
  }
  void Backup() { --idx_; }
  const Token& NextNonSpace() {
    while (Peek().type == Tok::kSpace) Next();
    return Next();
  }
  const Token& PeekNonSpace() {
    while (Peek().type == Tok::kSpace) Next();
    return Peek();
  }

  absl::Status Err(int pos, const std::string& msg) const {
    auto [line, col] = src_->LineCol(pos);
    return absl::InvalidArgumentError(
        absl::StrCat("template: ", src_->file, ":", line, ":", col, ": ", msg));
  }
  absl::Status Fail(int pos, const std::string& msg) {
    if (!status_.ok()) return status_;  // A lexer error explains the problem better.
    status_ = Err(pos, msg);
    return status_;
  }

  static std::string Describe(const Token& t) {
    switch (t.type) {
      case Tok::kEOF:
        return "EOF";
      case Tok::kError:
        return t.val;
      case Tok::kKeyword:
        return "<" + t.val + ">";
      case Tok::kSpace:
        return "space";
      default:
        if (t.val.size() > 10) return GoQuote(t.val.substr(0, 10)) + "...";
        return GoQuote(t.val);
    }
  }
  absl::Status Unexpected(const Token& t, const std::string& context) {
    if (t.type == Tok::kError) return Fail(t.pos, t.val);
    return Fail(t.pos, absl::StrCat("unexpected ", Describe(t), " in ", context));
  }

  std::string SourceText(int from) const {
    int to = std::min<int>(last_end(), src_->text.size());
    if (to <= from) return "";
    return src_->text.substr(from, to - from);
  }
  int last_end() const {
    if (idx_ == 0) return 0;
    const Token& t = toks_[std::min(idx_, toks_.size()) - 1];
    return t.pos + static_cast<int>(t.val.size());
  }

  // {{define "name"}} ... {{end}}; the "define" token has been consumed.
  absl::Status ParseDefinition() {
    const Token& name_tok = NextNonSpace();
    auto name = TemplateName(name_tok, "define clause");
    if (!name.ok()) return name.status();
    if (const Token& t = NextNonSpace(); t.type != Tok::kRightDelim)
      return Unexpected(t, "define clause");
    auto saved_vars = std::move(vars_);
    vars_ = {"$"};
    auto tree = std::make_unique<Tree>();
    tree->name = *name;
    tree->source = src_;
    int end_kind = 0;
    if (auto s = ItemList(&tree->root, &end_kind); !s.ok()) return s;
    if (end_kind != 1) return Fail(last_action_pos_, "unexpected {{else}} in define clause");
    vars_ = std::move(saved_vars);
    return AddTree(std::move(tree));
  }

  absl::Status AddTree(std::unique_ptr<Tree> tree) {
    for (auto& t : trees_) {
      if (t && t->name == tree->name) {
        if (IsEmptyTree(tree->root)) return absl::OkStatus();
        if (!IsEmptyTree(t->root))
          return Fail(last_pos_, absl::StrCat("template: multiple definition of template \"",
                                              tree->name, "\""));
        t = std::move(tree);
        return absl::OkStatus();
      }
    }
    trees_.push_back(std::move(tree));
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> TemplateName(const Token& t, const std::string& context) {
    if (t.type == Tok::kString) {
      auto s = Unquote(t.val);
      if (!s.ok()) return Fail(t.pos, absl::StrCat("malformed string ", t.val));
      return *s;
    }
    if (t.type == Tok::kRawString) return t.val.substr(1, t.val.size() - 2);
    return Unexpected(t, context);
  }

  // Parses until {{end}} (end_kind 1) or {{else}} (end_kind 2).
  absl::Status ItemList(NodeList* list, int* end_kind) {
    while (PeekNonSpace().type != Tok::kEOF) {
      if (Peek().type == Tok::kError) return Fail(Peek().pos, Peek().val);
      std::unique_ptr<Node> n;
      int kind = 0;
      if (auto s = TextOrAction(&n, &kind); !s.ok()) return s;
      if (kind != 0) {
        *end_kind = kind;
        return absl::OkStatus();
      }
      list->push_back(std::move(n));
    }
    return Fail(Peek().pos, "unexpected EOF");
  }

  absl::Status TextOrAction(std::unique_ptr<Node>* out, int* end_kind) {
    const Token& t = NextNonSpace();
    if (t.type == Tok::kText) {
      auto n = std::make_unique<Node>();
      n->type = NodeType::kText;
      n->pos = t.pos;
      n->text = t.val;
      *out = std::move(n);
      return absl::OkStatus();
    }
    if (t.type == Tok::kLeftDelim) return Action(t.pos, out, end_kind);
    return Unexpected(t, "input");
  }

  absl::Status Action(int start, std::unique_ptr<Node>* out, int* end_kind) {
    if (++depth_ > kMaxDepth) return Fail(start, "template nesting is too deep");
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
    last_action_pos_ = start;
    const Token& t = NextNonSpace();
    if (t.type == Tok::kKeyword) {
      const std::string& k = t.val;
      if (k == "end") {
        if (const Token& r = NextNonSpace(); r.type != Tok::kRightDelim)
          return Unexpected(r, "end");
        *end_kind = 1;
        return absl::OkStatus();
      }
      if (k == "else") {
        const Token& p = PeekNonSpace();
        if (p.type == Tok::kKeyword && (p.val == "if" || p.val == "with")) {
          else_chain_ = p.val;  // {{else if}}: the "if" starts the else branch.
        } else if (const Token& r = NextNonSpace(); r.type != Tok::kRightDelim) {
          return Unexpected(r, "else");
        }
        *end_kind = 2;
        return absl::OkStatus();
      }
      if (k == "if" || k == "with" || k == "range") return Control(k, start, out);
      if (k == "break" || k == "continue") {
        if (range_depth_ == 0) return Fail(t.pos, absl::StrCat("{{", k, "}} outside {{range}}"));
        if (const Token& r = NextNonSpace(); r.type != Tok::kRightDelim)
          return Unexpected(r, absl::StrCat("{{", k, "}}"));
        auto n = std::make_unique<Node>();
        n->type = k == "break" ? NodeType::kBreak : NodeType::kContinue;
        n->pos = start;
        *out = std::move(n);
        return absl::OkStatus();
      }
      if (k == "template" || k == "block") return TemplateCall(k, start, out);
    }
    Backup();
    auto n = std::make_unique<Node>();
    n->type = NodeType::kAction;
    n->pos = start;
    auto pipe = Pipeline("command", Tok::kRightDelim);
    if (!pipe.ok()) return pipe.status();
    n->pipe = std::move(*pipe);
    n->text = n->pipe->text;
    *out = std::move(n);
    return absl::OkStatus();
  }

  absl::Status Control(const std::string& context, int start, std::unique_ptr<Node>* out) {
    // Counted here too: an {{else if}} chain nests without passing through Action.
    if (++depth_ > kMaxDepth) return Fail(start, "template nesting is too deep");
    struct Leave {
      int& d;
      ~Leave() { --d; }
    } leave{depth_};
    size_t vars_mark = vars_.size();
    auto n = std::make_unique<Node>();
    n->type = context == "if"     ? NodeType::kIf
              : context == "with" ? NodeType::kWith
                                  : NodeType::kRange;
    n->pos = start;
    auto pipe = Pipeline(context, Tok::kRightDelim);
    if (!pipe.ok()) return pipe.status();
    n->pipe = std::move(*pipe);
    n->text = context + " " + n->pipe->text;
    if (context == "range") ++range_depth_;
    int end_kind = 0;
    if (auto s = ItemList(&n->list, &end_kind); !s.ok()) return s;
    if (context == "range") --range_depth_;
    if (end_kind == 2) {
      n->has_else = true;
      if (!else_chain_.empty()) {
        if (else_chain_ != context || context == "range")
          return Fail(last_pos_, absl::StrCat("unexpected <", else_chain_, "> in else"));
        else_chain_.clear();
        int chained_start = Peek().pos;
        const Token& kw = NextNonSpace();
        std::unique_ptr<Node> inner;
        // Only one {{end}} closes the whole if/else-if chain: the inner control consumes it.
        if (auto s = Control(kw.val, chained_start, &inner); !s.ok()) return s;
        n->else_list.push_back(std::move(inner));
      } else {
        if (auto s = ItemList(&n->else_list, &end_kind); !s.ok()) return s;
        if (end_kind != 1) return Fail(last_action_pos_, "expected end; found {{else}}");
      }
    }
    vars_.resize(vars_mark);
    *out = std::move(n);
    return absl::OkStatus();
  }

  absl::Status TemplateCall(const std::string& context, int start, std::unique_ptr<Node>* out) {
    const Token& name_tok = NextNonSpace();
    auto name = TemplateName(name_tok, absl::StrCat(context, " clause"));
    if (!name.ok()) return name.status();
    auto n = std::make_unique<Node>();
    n->type = NodeType::kTemplate;
    n->pos = start;
    n->template_name = *name;
    n->text = absl::StrCat("{{", context, " ", GoQuote(*name), "}}");
    if (context == "template") {
      if (NextNonSpace().type != Tok::kRightDelim) {
        Backup();
        auto pipe = Pipeline(context, Tok::kRightDelim);
        if (!pipe.ok()) return pipe.status();
        n->pipe = std::move(*pipe);
      }
    } else {
      auto pipe = Pipeline(context, Tok::kRightDelim);
      if (!pipe.ok()) return pipe.status();
      n->pipe = std::move(*pipe);
      auto saved_vars = std::move(vars_);
      vars_ = {"$"};
      auto tree = std::make_unique<Tree>();
      tree->name = *name;
      tree->source = src_;
      int end_kind = 0;
      if (auto s = ItemList(&tree->root, &end_kind); !s.ok()) return s;
      if (end_kind != 1) return Fail(last_action_pos_, "unexpected {{else}} in block clause");
      vars_ = std::move(saved_vars);
      if (auto s = AddTree(std::move(tree)); !s.ok()) return s;
    }
    *out = std::move(n);
    return absl::OkStatus();
  }

  bool HasVar(const std::string& name) const {
    return std::find(vars_.begin(), vars_.end(), name) != vars_.end();
  }

  absl::StatusOr<std::unique_ptr<Pipe>> Pipeline(const std::string& context, Tok end) {
    auto pipe = std::make_unique<Pipe>();
    pipe->pos = PeekNonSpace().pos;
    int text_start = pipe->pos;
    // Declarations: $x := / $x = / (range) $i, $v :=
    while (PeekNonSpace().type == Tok::kVariable) {
      const Token v = NextNonSpace();
      size_t after_var = idx_;
      const Token& next = PeekNonSpace();
      if (next.type == Tok::kAssign || next.type == Tok::kDeclare) {
        pipe->is_assign = next.type == Tok::kAssign;
        NextNonSpace();
        if (pipe->is_assign && !HasVar(v.val))
          return Fail(v.pos, absl::StrCat("undefined variable \"", v.val, "\""));
        pipe->decl.push_back(v.val);
        vars_.push_back(v.val);
        break;
      }
      if (next.type == Tok::kChar && next.val == ",") {
        NextNonSpace();
        pipe->decl.push_back(v.val);
        vars_.push_back(v.val);
        if (context == "range" && pipe->decl.size() < 2) {
          Tok p = PeekNonSpace().type;
          if (p == Tok::kVariable) continue;
          return Fail(Peek().pos, "range can only initialize variables");
        }
        return Fail(v.pos, absl::StrCat("too many declarations in ", context));
      }
      idx_ = after_var - 1;  // Not a declaration: the variable is an operand.
      break;
    }
    while (true) {
      const Token& t = NextNonSpace();
      if (t.type == end) {
        if (pipe->cmds.empty()) return Fail(t.pos, absl::StrCat("missing value for ", context));
        for (size_t i = 1; i < pipe->cmds.size(); ++i) {
          ArgType a = pipe->cmds[i].args[0].type;
          if (a == ArgType::kBool || a == ArgType::kDot || a == ArgType::kNil ||
              a == ArgType::kNumber || a == ArgType::kString)
            return Fail(pipe->cmds[i].pos,
                        absl::StrCat("non executable command in pipeline stage ", i + 1));
        }
        pipe->text = src_->text.substr(text_start, std::max(0, t.pos - text_start));
        while (!pipe->text.empty() && IsSpace(pipe->text.back())) pipe->text.pop_back();
        return pipe;
      }
      switch (t.type) {
        case Tok::kBool:
        case Tok::kCharConst:
        case Tok::kDot:
        case Tok::kField:
        case Tok::kIdentifier:
        case Tok::kNumber:
        case Tok::kNil:
        case Tok::kRawString:
        case Tok::kString:
        case Tok::kVariable:
        case Tok::kLeftParen: {
          Backup();
          auto cmd = ParseCommand();
          if (!cmd.ok()) return cmd.status();
          pipe->cmds.push_back(std::move(*cmd));
          break;
        }
        default:
          return Unexpected(t, context);
      }
    }
  }

  absl::StatusOr<Command> ParseCommand() {
    Command cmd;
    cmd.pos = PeekNonSpace().pos;
    while (true) {
      PeekNonSpace();
      std::optional<Arg> operand;
      if (auto s = Operand(&operand); !s.ok()) return s;
      if (operand) cmd.args.push_back(std::move(*operand));
      const Token& t = Next();
      if (t.type == Tok::kSpace) continue;
      if (t.type == Tok::kRightDelim || t.type == Tok::kRightParen) {
        Backup();
      } else if (t.type != Tok::kPipe) {
        return Unexpected(t, "operand");
      }
      break;
    }
    if (cmd.args.empty()) return Fail(cmd.pos, "empty command");
    int end = cmd.args.back().pos + static_cast<int>(cmd.args.back().text.size());
    cmd.text = src_->text.substr(cmd.pos, std::max(0, end - cmd.pos));
    return cmd;
  }

  absl::Status Operand(std::optional<Arg>* out) {
    std::optional<Arg> term;
    if (auto s = Term(&term); !s.ok()) return s;
    if (!term) return absl::OkStatus();
    if (Peek().type == Tok::kField) {
      std::vector<std::string> fields;
      while (Peek().type == Tok::kField) fields.push_back(Next().val.substr(1));
      ArgType t = term->type;
      if (t == ArgType::kField || t == ArgType::kVariable) {
        for (auto& f : fields) term->fields.push_back(f);
      } else if (t == ArgType::kBool || t == ArgType::kString || t == ArgType::kNumber ||
                 t == ArgType::kNil || t == ArgType::kDot) {
        return Fail(term->pos, absl::StrCat("unexpected . after term ", GoQuote(term->text)));
      } else {
        Arg chain;
        chain.type = ArgType::kChain;
        chain.pos = term->pos;
        chain.fields = std::move(fields);
        chain.base = std::make_unique<Arg>(std::move(*term));
        term = std::move(chain);
      }
      term->text = src_->text.substr(term->pos, last_end() - term->pos);
    }
    *out = std::move(term);
    return absl::OkStatus();
  }

  absl::Status Term(std::optional<Arg>* out) {
    const Token& t = NextNonSpace();
    Arg a;
    a.pos = t.pos;
    a.text = t.val;
    switch (t.type) {
      case Tok::kIdentifier: {
        auto it = funcs_.find(t.val);
        if (it == funcs_.end())
          return Fail(t.pos, absl::StrCat("function \"", t.val, "\" not defined"));
        a.type = ArgType::kFunc;
        a.name = t.val;
        a.func = &it->second;
        break;
      }
      case Tok::kDot:
        a.type = ArgType::kDot;
        break;
      case Tok::kNil:
        a.type = ArgType::kNil;
        break;
      case Tok::kVariable:
        if (!HasVar(t.val)) return Fail(t.pos, absl::StrCat("undefined variable \"", t.val, "\""));
        a.type = ArgType::kVariable;
        a.name = t.val;
        break;
      case Tok::kField:
        a.type = ArgType::kField;
        a.fields.push_back(t.val.substr(1));
        break;
      case Tok::kBool:
        a.type = ArgType::kBool;
        a.constant = Value(t.val == "true");
        break;
      case Tok::kCharConst: {
        auto s = Unquote(t.val);
        if (!s.ok() || s->empty())
          return Fail(t.pos, absl::StrCat("malformed character constant: ", t.val));
        // Decode a single rune.
        const std::string& u = *s;
        unsigned char c0 = u[0];
        int64_t r = c0;
        size_t n = 1;
        if (c0 >= 0xC0) {
          n = c0 >= 0xF0 ? 4 : c0 >= 0xE0 ? 3 : 2;
          r = c0 & (0x7F >> n);
          for (size_t k = 1; k < n && k < u.size(); ++k) r = (r << 6) | (u[k] & 0x3F);
        }
        if (u.size() != n)
          return Fail(t.pos, absl::StrCat("malformed character constant: ", t.val));
        a.type = ArgType::kNumber;
        a.constant = Value(r);
        break;
      }
      case Tok::kNumber: {
        auto v = ParseNumber(t.val);
        if (!v.ok()) return Fail(t.pos, std::string(v.status().message()));
        a.type = ArgType::kNumber;
        a.constant = *v;
        break;
      }
      case Tok::kLeftParen: {
        if (++depth_ > kMaxDepth) return Fail(t.pos, "template nesting is too deep");
        auto pipe = Pipeline("parenthesized pipeline", Tok::kRightParen);
        --depth_;
        if (!pipe.ok()) return pipe.status();
        a.type = ArgType::kPipe;
        a.pipe = std::move(*pipe);
        a.text = SourceText(t.pos);
        break;
      }
      case Tok::kString:
      case Tok::kRawString: {
        a.type = ArgType::kString;
        if (t.type == Tok::kRawString) {
          a.constant = Value(t.val.substr(1, t.val.size() - 2));
        } else {
          auto s = Unquote(t.val);
          if (!s.ok()) return Fail(t.pos, absl::StrCat("malformed string ", t.val));
          a.constant = Value(*s);
        }
        break;
      }
      default:
        Backup();
        return absl::OkStatus();
    }
    *out = std::move(a);
    return absl::OkStatus();
  }

  std::shared_ptr<const Source> src_;
  const FuncMap& funcs_;
  std::vector<Token> toks_;
  size_t idx_ = 0;
  int last_pos_ = 0;
  int last_action_pos_ = 0;  // Where the latest {{ began, for errors about a whole action.
  absl::Status status_;
  std::vector<std::string> vars_;
  std::vector<std::unique_ptr<Tree>> trees_;
  std::string else_chain_;
  int range_depth_ = 0;
  int depth_ = 0;
};

}  // namespace

absl::StatusOr<std::vector<std::unique_ptr<Tree>>> ParseTrees(std::string_view name,
                                                              std::string_view text,
                                                              const FuncMap& funcs) {
  auto src = std::make_shared<Source>();
  src->file = std::string(name);
  src->text = std::string(text);
  std::vector<Token> tokens = Lexer(src->text).Run();
  Parser p(src, funcs, std::move(tokens));
  return p.Run();
}

}  // namespace optimus::tmpl::internal
