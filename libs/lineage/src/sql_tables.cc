// The SQL table extractor: a lexer that understands what BigQuery can quote, and a scanner
// that knows, at every parenthesis depth, whether a table name may come next.
#include "optimus/lineage/sql_tables.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace optimus::lineage {
namespace {

enum class Kind { kWord, kQuoted, kString, kNumber, kPunct, kEnd };

struct Token {
  Kind kind = Kind::kEnd;
  std::string_view text;  // for kQuoted, without the backticks
  size_t begin = 0;
  size_t end = 0;
  bool ignore_mark = false;  // an @ignoreupstream comment came right before it
};

bool IsWordStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Lexer {
 public:
  explicit Lexer(std::string_view sql) : s_(sql) {}

  std::vector<Token> Run() {
    std::vector<Token> out;
    out.reserve(s_.size() / 4);
    bool mark = false;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i_;
      } else if (c == '-' && Peek(1) == '-') {
        mark |= LineComment();
      } else if (c == '#') {
        mark |= LineComment();
      } else if (c == '/' && Peek(1) == '*') {
        mark |= BlockComment();
      } else {
        Token t = Next();
        t.ignore_mark = mark;
        mark = false;
        out.push_back(t);
      }
    }
    out.push_back(Token{Kind::kEnd, {}, s_.size(), s_.size(), false});
    return out;
  }

 private:
  char Peek(size_t ahead) const { return i_ + ahead < s_.size() ? s_[i_ + ahead] : '\0'; }

  static bool Marks(std::string_view comment) {
    return comment.find("@ignoreupstream") != std::string_view::npos;
  }

  bool LineComment() {
    const size_t start = i_;
    while (i_ < s_.size() && s_[i_] != '\n') ++i_;
    return Marks(s_.substr(start, i_ - start));
  }

  bool BlockComment() {
    const size_t start = i_;
    const size_t close = s_.find("*/", i_ + 2);
    i_ = close == std::string_view::npos ? s_.size() : close + 2;
    return Marks(s_.substr(start, i_ - start));
  }

  // A string literal starting at i_ (after any r/b prefix): '...', "...", '''...''', """...""".
  void String(bool raw) {
    const char q = s_[i_];
    if (Peek(1) == q && Peek(2) == q) {
      i_ += 3;
      while (i_ < s_.size()) {
        if (!raw && s_[i_] == '\\') {
          i_ += 2;
        } else if (s_[i_] == q && Peek(1) == q && Peek(2) == q) {
          i_ += 3;
          return;
        } else {
          ++i_;
        }
      }
      return;
    }
    ++i_;
    while (i_ < s_.size() && s_[i_] != q) {
      i_ += (!raw && s_[i_] == '\\') ? 2 : 1;
    }
    i_ = std::min(s_.size(), i_ + 1);
  }

  Token Next() {
    const size_t start = i_;
    const char c = s_[i_];
    if (c == '`') {
      const size_t close = s_.find('`', i_ + 1);
      i_ = close == std::string_view::npos ? s_.size() : close + 1;
      const size_t inner_end = close == std::string_view::npos ? s_.size() : close;
      return Token{Kind::kQuoted, s_.substr(start + 1, inner_end - start - 1), start, i_};
    }
    if (c == '\'' || c == '"') {
      String(false);
      return Token{Kind::kString, s_.substr(start, i_ - start), start, i_};
    }
    // r'..', b'..', rb'..', br'..' (any case).
    if (std::string_view("rRbB").find(c) != std::string_view::npos) {
      size_t k = 1;
      bool raw = c == 'r' || c == 'R';
      if (std::string_view("rRbB").find(Peek(1)) != std::string_view::npos && Peek(1) != c) {
        raw = raw || Peek(1) == 'r' || Peek(1) == 'R';
        k = 2;
      }
      if (Peek(k) == '\'' || Peek(k) == '"') {
        i_ += k;
        String(raw);
        return Token{Kind::kString, s_.substr(start, i_ - start), start, i_};
      }
    }
    if (IsWordStart(c)) {
      // BigQuery project ids may hold dashes: my-project.dataset.table.
      while (i_ < s_.size() &&
             (IsWordChar(s_[i_]) || (s_[i_] == '-' && i_ + 1 < s_.size() &&
                                     IsWordChar(s_[i_ + 1]) && s_[i_ - 1] != '-'))) {
        ++i_;
      }
      return Token{Kind::kWord, s_.substr(start, i_ - start), start, i_};
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i_ < s_.size() && (IsWordChar(s_[i_]))) ++i_;
      return Token{Kind::kNumber, s_.substr(start, i_ - start), start, i_};
    }
    if (c == '@') {
      // Query parameters (@name) and system variables (@@name) are values, never tables.
      ++i_;
      while (i_ < s_.size() && (IsWordChar(s_[i_]) || s_[i_] == '@')) ++i_;
      return Token{Kind::kString, s_.substr(start, i_ - start), start, i_};
    }
    ++i_;
    return Token{Kind::kPunct, s_.substr(start, 1), start, i_};
  }

  std::string_view s_;
  size_t i_ = 0;
};

bool Is(const Token& t, std::string_view keyword) {
  if (t.kind != Kind::kWord || t.text.size() != keyword.size()) return false;
  for (size_t i = 0; i < keyword.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(t.text[i])) != keyword[i]) return false;
  }
  return true;
}

bool IsPunct(const Token& t, char c) {
  return t.kind == Kind::kPunct && t.text.size() == 1 && t.text[0] == c;
}

template <size_t N>
bool IsAny(const Token& t, const std::string_view (&words)[N]) {
  if (t.kind != Kind::kWord) return false;
  for (std::string_view w : words) {
    if (Is(t, w)) return true;
  }
  return false;
}

// Words that end a FROM list at their depth.
constexpr std::string_view kListEnders[] = {
    "WHERE",     "GROUP",  "HAVING", "QUALIFY", "WINDOW", "ORDER", "LIMIT",   "UNION",
    "INTERSECT", "EXCEPT", "SELECT", "SET",     "WHEN",   "THEN",  "OPTIONS", "VALUES"};
// Words that cannot be a table alias.
constexpr std::string_view kNotAlias[] = {
    "WHERE",     "JOIN",    "INNER",   "LEFT",    "RIGHT",   "FULL",    "CROSS",   "OUTER",
    "ON",        "USING",   "GROUP",   "ORDER",   "HAVING",  "LIMIT",   "UNION",   "EXCEPT",
    "INTERSECT", "WINDOW",  "QUALIFY", "SELECT",  "FROM",    "AS",      "FOR",     "TABLESAMPLE",
    "WITH",      "SET",     "WHEN",    "THEN",    "ELSE",    "END",     "AND",     "OR",
    "NOT",       "NATURAL", "PIVOT",   "UNPIVOT", "LATERAL", "OPTIONS", "MATCHED", "BY"};
// Words between a writing statement's verb and its target.
constexpr std::string_view kTargetModifiers[] = {
    "INTO",         "OR",        "REPLACE",  "TEMP",      "TEMPORARY", "TABLE",  "VIEW",
    "MATERIALIZED", "EXTERNAL",  "SNAPSHOT", "IF",        "NOT",       "EXISTS", "FROM",
    "FUNCTION",     "PROCEDURE", "SCHEMA",   "AGGREGATE", "SEARCH",    "INDEX",  "ROW",
    "ACCESS",       "POLICY",    "ON",       "VECTOR",    "MODEL"};
// Verbs whose next table path is written, not read.
constexpr std::string_view kWriters[] = {"INSERT", "MERGE",    "UPDATE", "DELETE",
                                         "CREATE", "TRUNCATE", "DROP",   "ALTER"};

struct Level {
  bool query = false;      // SELECT-level: FROM here starts a table list
  bool from_list = false;  // inside a FROM list: a comma brings the next table
  bool cte_list = false;   // inside WITH: after a CTE's ")" a comma brings the next name
};

class Scanner {
 public:
  explicit Scanner(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  SqlTables Run() {
    levels_.push_back(Level{true, false, false});
    while (t_[i_].kind != Kind::kEnd) Step();
    SqlTables out;
    for (auto& ref : sources_) {
      // A one-part name that is a CTE is the query's own, not a table.
      if (ref.parts.size() == 1 && ctes_.count(Lower(ref.parts[0])) > 0) continue;
      out.sources.push_back(std::move(ref));
    }
    Finish(out.sources);
    out.ignored = std::move(ignored_);
    Finish(out.ignored);
    out.targets = std::move(targets_);
    Finish(out.targets);
    return out;
  }

 private:
  static void Finish(std::vector<TableRef>& refs) {
    std::sort(refs.begin(), refs.end());
    refs.erase(std::unique(refs.begin(), refs.end()), refs.end());
  }

  static std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }

  const Token& At(size_t k) const { return t_[std::min(k, t_.size() - 1)]; }
  Level& Top() { return levels_.back(); }

  // Reads a dotted path at i_ (words, numbers and backtick parts, '*' wildcards); false when
  // none starts here.
  bool ReadPath(TableRef& ref, bool& marked) {
    const size_t start = i_;
    marked = t_[i_].ignore_mark;
    for (;;) {
      const Token& t = t_[i_];
      if (t.kind == Kind::kQuoted) {
        size_t from = 0;
        std::string_view text = t.text;
        while (from <= text.size()) {
          const size_t dot = text.find('.', from);
          const size_t stop = dot == std::string_view::npos ? text.size() : dot;
          if (stop > from) ref.parts.emplace_back(text.substr(from, stop - from));
          if (dot == std::string_view::npos) break;
          from = dot + 1;
        }
      } else if (t.kind == Kind::kWord || (t.kind == Kind::kNumber && i_ > start)) {
        ref.parts.emplace_back(t.text);
      } else {
        break;
      }
      ++i_;
      // A wildcard suffix written without a space: dataset.events_*.
      if (IsPunct(t_[i_], '*') && t_[i_].begin == t_[i_ - 1].end && !ref.parts.empty()) {
        ref.parts.back() += '*';
        ++i_;
      }
      if (IsPunct(t_[i_], '.') && t_[i_].begin == t_[i_ - 1].end &&
          (At(i_ + 1).kind == Kind::kWord || At(i_ + 1).kind == Kind::kQuoted ||
           At(i_ + 1).kind == Kind::kNumber)) {
        ++i_;
        continue;
      }
      break;
    }
    return i_ > start && !ref.parts.empty();
  }

  // At a place where a table may be named (after FROM, JOIN, USING, a FROM-list comma).
  void TableItem() {
    const Token& t = t_[i_];
    if (IsPunct(t, '(')) return;  // a subquery or a parenthesised join: Step opens it
    if (t.kind != Kind::kWord && t.kind != Kind::kQuoted) return;
    if (t.kind == Kind::kWord && IsAny(t, kNotAlias)) return;
    const size_t start = i_;
    TableRef ref;
    bool marked = false;
    if (!ReadPath(ref, marked)) return;
    // UNNEST(...), ML.PREDICT(...), a table-valued function: not a table.
    if (IsPunct(t_[i_], '(')) {
      i_ = start + 1;
      while (i_ < t_.size() && !IsPunct(t_[i_], '(')) ++i_;
      Open(false);
      return;
    }
    // FROM t, t.items: an array of a row already in scope.
    const bool correlated = ref.parts.size() == 2 && aliases_.count(Lower(ref.parts[0])) > 0;
    if (!correlated) (marked ? ignored_ : sources_).push_back(ref);
    // An alias: AS name, or a bare name that is not a keyword.
    if (Is(t_[i_], "AS") && (At(i_ + 1).kind == Kind::kWord || At(i_ + 1).kind == Kind::kQuoted)) {
      aliases_.insert(Lower(At(i_ + 1).text));
      i_ += 2;
    } else if (t_[i_].kind == Kind::kWord && !IsAny(t_[i_], kNotAlias)) {
      aliases_.insert(Lower(t_[i_].text));
      ++i_;
    }
    if (ref.parts.size() == 1) aliases_.insert(Lower(ref.parts[0]));
  }

  void Open(bool table_group) {
    const Token& next = At(i_ + 1);
    Level level;
    level.query = table_group || Is(next, "SELECT") || Is(next, "WITH") || IsPunct(next, '(');
    ++i_;
    levels_.push_back(level);
    if (table_group) TableItem();
  }

  void Close() {
    if (levels_.size() > 1) levels_.pop_back();
    ++i_;
    // WITH a AS (...), b AS (...): the comma after a CTE body brings the next name.
    if (Top().cte_list) {
      if (IsPunct(t_[i_], ',') &&
          (At(i_ + 1).kind == Kind::kWord || At(i_ + 1).kind == Kind::kQuoted)) {
        ctes_.insert(Lower(At(i_ + 1).text));
        i_ += 2;
      } else {
        Top().cte_list = false;
      }
    }
  }

  void Target() {
    while (IsAny(t_[i_], kTargetModifiers)) ++i_;
    TableRef ref;
    bool marked = false;
    if (ReadPath(ref, marked)) targets_.push_back(std::move(ref));
  }

  void Step() {
    const Token& t = t_[i_];
    if (IsPunct(t, '(')) {
      const Token& prev = i_ > 0 ? t_[i_ - 1] : t_[i_];
      const bool table_position = i_ > 0 && (Is(prev, "FROM") || Is(prev, "JOIN") ||
                                             (IsPunct(prev, ',') && Top().from_list) ||
                                             (Is(prev, "USING") && MergeUsing()));
      Open(table_position);
      return;
    }
    if (IsPunct(t, ')')) {
      Close();
      return;
    }
    if (IsPunct(t, ';')) {
      levels_.resize(1);
      levels_[0] = Level{true, false, false};
      merge_ = false;
      create_ = false;
      ++i_;
      return;
    }
    if (IsPunct(t, ',') && Top().from_list) {
      ++i_;
      TableItem();
      return;
    }
    if (t.kind != Kind::kWord) {
      ++i_;
      return;
    }
    if (IsAny(t, kWriters)) {
      if (Is(t, "MERGE") && !merge_) merge_depth_ = levels_.size();
      merge_ = merge_ || Is(t, "MERGE");
      create_ = create_ || Is(t, "CREATE");
      // WHEN MATCHED THEN UPDATE SET ... / THEN DELETE / THEN INSERT (...) name no table.
      const bool merge_action = i_ > 0 && Is(t_[i_ - 1], "THEN");
      ++i_;
      if (!merge_action) Target();
      return;
    }
    if (Is(t, "FROM")) {
      ++i_;
      if (!Top().query) return;  // EXTRACT(x FROM y), SUBSTRING(s FROM 2), TRIM(... FROM s)
      Top().from_list = true;
      TableItem();
      return;
    }
    if (Is(t, "JOIN")) {
      ++i_;
      TableItem();
      return;
    }
    if (Is(t, "USING") && MergeUsing()) {
      ++i_;
      TableItem();
      return;
    }
    if ((Is(t, "LIKE") || Is(t, "CLONE") || Is(t, "COPY")) && create_) {
      ++i_;
      TableItem();
      return;
    }
    if (Is(t, "WITH") && Top().query && !Is(At(i_ + 1), "OFFSET")) {
      ++i_;
      if (Is(t_[i_], "RECURSIVE")) ++i_;
      if (t_[i_].kind == Kind::kWord || t_[i_].kind == Kind::kQuoted) {
        ctes_.insert(Lower(t_[i_].text));
        Top().cte_list = true;
        ++i_;
      }
      return;
    }
    if (IsAny(t, kListEnders)) Top().from_list = false;
    ++i_;
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  std::vector<Level> levels_;
  std::set<std::string> ctes_;
  std::set<std::string> aliases_;
  std::vector<TableRef> sources_, ignored_, targets_;
  bool merge_ = false;
  size_t merge_depth_ = 0;  // the nesting level of the MERGE statement itself
  // USING names the MERGE's source only at the MERGE's own level: a `JOIN ... USING (col)` in
  // its source subquery lists columns.
  bool MergeUsing() const { return merge_ && levels_.size() == merge_depth_; }
  bool create_ = false;
};

}  // namespace

std::string TableRef::ToString() const {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += '.';
    out += p;
  }
  return out;
}

SqlTables ExtractSqlTables(std::string_view sql) { return Scanner(Lexer(sql).Run()).Run(); }

}  // namespace optimus::lineage
