// TemplateSet and the executor: walks parse trees over a Value, with Go's builtin functions.
#include <algorithm>
#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ast.h"
#include "go_fmt.h"
#include "optimus/template/template.h"

namespace optimus::tmpl {

using internal::Arg;
using internal::ArgType;
using internal::Command;
using internal::Node;
using internal::NodeList;
using internal::NodeType;
using internal::Pipe;
using internal::Tree;

namespace {

absl::Status CallError(std::string msg) { return absl::InvalidArgumentError(std::move(msg)); }

// The kinds eq/lt compare, as Go's basicKind sorts them.
enum class BasicKind { kInvalid, kBool, kInt, kFloat, kString, kOther };

BasicKind Basic(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kNull:
      return BasicKind::kInvalid;
    case Value::Kind::kBool:
      return BasicKind::kBool;
    case Value::Kind::kInt:
      return BasicKind::kInt;
    case Value::Kind::kDouble:
      return BasicKind::kFloat;
    case Value::Kind::kString:
      return BasicKind::kString;
    default:
      return BasicKind::kOther;
  }
}

absl::StatusOr<bool> Eq(std::span<const Value> args) {
  const Value& a = args[0];
  if (a.is_list() || a.is_map())
    return CallError(absl::StrCat("non-comparable type ", FormatValue(a), ": ", a.TypeName()));
  if (args.size() < 2) return CallError("missing argument for comparison");
  BasicKind k1 = Basic(a);
  for (size_t i = 1; i < args.size(); ++i) {
    const Value& b = args[i];
    BasicKind k2 = Basic(b);
    bool truth = false;
    if (k1 != k2) {
      if (!a.is_null() && !b.is_null())
        return CallError(absl::StrCat("incompatible types for comparison: ", a.TypeName(), " and ",
                                      b.TypeName()));
    } else {
      switch (k1) {
        case BasicKind::kInvalid:
          truth = true;  // nil == nil
          break;
        case BasicKind::kBool:
          truth = a.as_bool() == b.as_bool();
          break;
        case BasicKind::kInt:
          truth = a.as_int() == b.as_int();
          break;
        case BasicKind::kFloat:
          truth = a.as_double() == b.as_double();
          break;
        case BasicKind::kString:
          truth = a.as_string() == b.as_string();
          break;
        case BasicKind::kOther:
          if (a.is_time() && b.is_time()) {
            truth = a.as_time().instant == b.as_time().instant;
          } else if (b.is_list() || b.is_map()) {
            return CallError(
                absl::StrCat("non-comparable type ", FormatValue(b), ": ", b.TypeName()));
          } else {
            return CallError(absl::StrCat("non-comparable types ", FormatValue(a), ": ",
                                          a.TypeName(), ", ", b.TypeName(), ": ", FormatValue(b)));
          }
          break;
      }
    }
    if (truth) return true;
  }
  return false;
}

absl::StatusOr<bool> Less(const Value& a, const Value& b) {
  BasicKind k1 = Basic(a), k2 = Basic(b);
  auto ordered = [](BasicKind k) {
    return k == BasicKind::kInt || k == BasicKind::kFloat || k == BasicKind::kString;
  };
  if (!ordered(k1) || !ordered(k2)) return CallError("invalid type for comparison");
  if (k1 != k2)
    return CallError(
        absl::StrCat("incompatible types for comparison: ", a.TypeName(), " and ", b.TypeName()));
  switch (k1) {
    case BasicKind::kInt:
      return a.as_int() < b.as_int();
    case BasicKind::kFloat:
      return a.as_double() < b.as_double();
    default:
      return a.as_string() < b.as_string();
  }
}

std::string EvalArgsString(std::span<const Value> args) {
  if (args.size() == 1 && args[0].is_string()) return args[0].as_string();
  return internal::GoSprint(args);
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\0':
        out += "\xEF\xBF\xBD";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string JsEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    unsigned char u = c;
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '"':
        out += "\\\"";
        break;
      case '<':
        out += "\\u003C";
        break;
      case '>':
        out += "\\u003E";
        break;
      case '&':
        out += "\\u0026";
        break;
      case '=':
        out += "\\u003D";
        break;
      default:
        if (u < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", u);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string QueryEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    unsigned char u = c;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += c;
    } else if (c == ' ') {
      out += '+';
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out += buf;
    }
  }
  return out;
}

absl::StatusOr<int64_t> IndexArg(const Value& index, int64_t cap, const std::string& what) {
  if (index.is_null()) return CallError(absl::StrCat("cannot index ", what, " with nil"));
  if (!index.is_int())
    return CallError(absl::StrCat("cannot index ", what, " with type ", index.TypeName()));
  int64_t x = index.as_int();
  if (x < 0 || x >= cap) return CallError(absl::StrCat("index out of range: ", x));
  return x;
}

absl::StatusOr<Value> Index(std::span<const Value> args) {
  Value item = args[0];
  if (item.is_null()) return CallError("index of untyped nil");
  for (size_t i = 1; i < args.size(); ++i) {
    const Value& index = args[i];
    if (item.is_list()) {
      auto x = IndexArg(index, item.as_list().size(), "slice/array");
      if (!x.ok()) return x.status();
      item = Value(item.as_list()[*x]);
    } else if (item.is_string()) {
      auto x = IndexArg(index, item.as_string().size(), "slice/array");
      if (!x.ok()) return x.status();
      item = Value(static_cast<int64_t>(static_cast<unsigned char>(item.as_string()[*x])));
    } else if (item.is_map()) {
      if (!index.is_string()) {
        if (index.is_null()) return CallError("value is nil; should be of type string");
        return CallError(absl::StrCat("value has type ", index.TypeName(), "; should be string"));
      }
      const Value* found = item.Find(index.as_string());
      item = found ? *found : Value();
    } else {
      return CallError(absl::StrCat("can't index item of type ", item.TypeName()));
    }
  }
  return item;
}

absl::StatusOr<Value> Slice(std::span<const Value> args) {
  const Value& item = args[0];
  if (item.is_null()) return CallError("slice of untyped nil");
  if (args.size() > 4) return CallError(absl::StrCat("too many slice indexes: ", args.size() - 1));
  int64_t cap;
  if (item.is_string()) {
    if (args.size() == 4) return CallError("cannot 3-index slice a string");
    cap = item.as_string().size();
  } else if (item.is_list()) {
    cap = item.as_list().size();
  } else {
    return CallError(absl::StrCat("can't slice item of type ", item.TypeName()));
  }
  int64_t idx[3] = {0, cap, cap};
  for (size_t i = 1; i < args.size(); ++i) {
    auto x = IndexArg(args[i], cap + 1, "slice/array");
    if (!x.ok()) return x.status();
    idx[i - 1] = *x;
  }
  if (idx[0] > idx[1])
    return CallError(absl::StrCat("invalid slice index: ", idx[0], " > ", idx[1]));
  if (args.size() == 4 && idx[1] > idx[2])
    return CallError(absl::StrCat("invalid slice index: ", idx[1], " > ", idx[2]));
  if (item.is_string()) return Value(item.as_string().substr(idx[0], idx[1] - idx[0]));
  const List& l = item.as_list();
  return Value(List(l.begin() + idx[0], l.begin() + idx[1]));
}

FuncMap Builtins() {
  FuncMap m;
  auto add = [&m](std::string name, int min, int max,
                  std::function<absl::StatusOr<Value>(std::span<const Value>)> f) {
    m[std::move(name)] = Function{std::move(f), min, max};
  };
  // and/or are evaluated lazily by the executor; these bodies serve direct calls only.
  add("and", 1, -1, [](std::span<const Value> a) -> absl::StatusOr<Value> {
    for (const Value& v : a)
      if (!v.Truthy()) return v;
    return a.back();
  });
  add("or", 1, -1, [](std::span<const Value> a) -> absl::StatusOr<Value> {
    for (const Value& v : a)
      if (v.Truthy()) return v;
    return a.back();
  });
  add("not", 1, 1,
      [](std::span<const Value> a) -> absl::StatusOr<Value> { return Value(!a[0].Truthy()); });
  add("len", 1, 1, [](std::span<const Value> a) -> absl::StatusOr<Value> {
    const Value& v = a[0];
    if (v.is_string()) return Value(static_cast<int64_t>(v.as_string().size()));
    if (v.is_list()) return Value(static_cast<int64_t>(v.as_list().size()));
    if (v.is_map()) return Value(static_cast<int64_t>(v.as_map().size()));
    if (v.is_null()) return CallError("len of untyped nil");
    return CallError(absl::StrCat("len of type ", v.TypeName()));
  });
  add("index", 1, -1, Index);
  add("slice", 1, -1, Slice);
  add("print", 0, -1, [](std::span<const Value> a) -> absl::StatusOr<Value> {
    return Value(internal::GoSprint(a));
  });
  add("println", 0, -1, [](std::span<const Value> a) -> absl::StatusOr<Value> {
    return Value(internal::GoSprintln(a));
  });
  add("printf", 1, -1, [](std::span<const Value> a) -> absl::StatusOr<Value> {
    if (!a[0].is_string())
      return CallError(
          absl::StrCat("wrong type for value; expected string; got ", a[0].TypeName()));
    auto s = internal::GoSprintf(a[0].as_string(), a.subspan(1));
    if (!s.ok()) return s.status();
    return Value(std::move(*s));
  });
  add("eq", 1, -1, [](std::span<const Value> a) -> absl::StatusOr<Value> {
    auto r = Eq(a);
    if (!r.ok()) return r.status();
    return Value(*r);
  });
  add("ne", 2, 2, [](std::span<const Value> a) -> absl::StatusOr<Value> {
    auto r = Eq(a);
    if (!r.ok()) return r.status();
    return Value(!*r);
  });
  auto ordered = [&add](std::string name, bool (*decide)(bool lt, bool eq)) {
    add(name, 2, 2, [decide](std::span<const Value> a) -> absl::StatusOr<Value> {
      auto lt = Less(a[0], a[1]);
      if (!lt.ok()) return lt.status();
      auto eq = Eq(a);
      if (!eq.ok()) return eq.status();
      return Value(decide(*lt, *eq));
    });
  };
  ordered("lt", [](bool lt, bool) { return lt; });
  ordered("le", [](bool lt, bool eq) { return lt || eq; });
  ordered("gt", [](bool lt, bool eq) { return !lt && !eq; });
  ordered("ge", [](bool lt, bool) { return !lt; });
  add("html", 0, -1, [](std::span<const Value> a) -> absl::StatusOr<Value> {
    return Value(HtmlEscape(EvalArgsString(a)));
  });
  add("js", 0, -1, [](std::span<const Value> a) -> absl::StatusOr<Value> {
    return Value(JsEscape(EvalArgsString(a)));
  });
  add("urlquery", 0, -1, [](std::span<const Value> a) -> absl::StatusOr<Value> {
    return Value(QueryEscape(EvalArgsString(a)));
  });
  return m;
}

}  // namespace

struct TemplateSet::Impl {
  FuncMap funcs;
  // A user function named and/or replaces the short-circuiting builtin.
  bool user_and = false;
  bool user_or = false;
  std::map<std::string, std::shared_ptr<const Tree>, std::less<>> trees;
};

namespace {

// One execution: output, variables and the position used in error messages.
class State {
 public:
  State(const TemplateSet::Impl& set, const ExecuteOptions& options, const Tree* tree)
      : set_(set), options_(options), tree_(tree) {}

  absl::Status Run(const Value& data) {
    vars_.push_back({"$", data});
    return WalkList(data, tree_->root);
  }
  std::string& out() { return out_; }

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  absl::Status Errorf(int pos, const std::string& context, const std::string& msg) const {
    auto [line, col] = tree_->source->LineCol(pos);
    std::string ctx(context);
    if (ctx.size() > 20) ctx = ctx.substr(0, 20) + "...";
    return absl::InvalidArgumentError(absl::StrCat("template: ", tree_->source->file, ":", line,
                                                   ":", col, ": executing \"", tree_->name,
                                                   "\" at <", ctx, ">: ", msg));
  }

  absl::Status Emit(std::string_view s) {
    if (out_.size() + s.size() > options_.max_output_bytes)
      return absl::ResourceExhaustedError(absl::StrCat(
          "template: ", tree_->name, ": output exceeds ", options_.max_output_bytes, " bytes"));
    out_.append(s);
    return absl::OkStatus();
  }

  absl::Status WalkList(const Value& dot, const NodeList& list) {
    for (const auto& n : list) {
      if (auto s = Walk(dot, *n); !s.ok()) return s;
      if (flow_ != Flow::kNormal) break;
    }
    return absl::OkStatus();
  }

  absl::Status Walk(const Value& dot, const Node& n) {
    if (++steps_ > options_.max_steps)
      return Errorf(n.pos, n.text,
                    absl::StrCat("execution exceeds ", options_.max_steps, " steps"));
    switch (n.type) {
      case NodeType::kText:
        return Emit(n.text);
      case NodeType::kAction: {
        auto v = EvalPipeline(dot, *n.pipe);
        if (!v.ok()) return v.status();
        if (n.pipe->decl.empty()) return Emit(v->is_null() ? "<no value>" : FormatValue(*v));
        return absl::OkStatus();
      }
      case NodeType::kIf:
      case NodeType::kWith: {
        size_t mark = vars_.size();
        auto v = EvalPipeline(dot, *n.pipe);
        if (!v.ok()) return v.status();
        absl::Status s;
        if (v->Truthy()) {
          s = WalkList(n.type == NodeType::kWith ? *v : dot, n.list);
        } else if (n.has_else) {
          s = WalkList(dot, n.else_list);
        }
        vars_.resize(mark);
        return s;
      }
      case NodeType::kRange:
        return WalkRange(dot, n);
      case NodeType::kTemplate:
        return WalkTemplate(dot, n);
      case NodeType::kBreak:
        flow_ = Flow::kBreak;
        return absl::OkStatus();
      case NodeType::kContinue:
        flow_ = Flow::kContinue;
        return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  absl::Status WalkRange(const Value& dot, const Node& n) {
    size_t mark = vars_.size();
    auto val = EvalPipeline(dot, *n.pipe);
    if (!val.ok()) return val.status();
    size_t body_mark = vars_.size();
    const Pipe& pipe = *n.pipe;
    bool stop = false;
    auto one = [&](const Value& index, const Value& elem) -> absl::Status {
      if (++steps_ > options_.max_steps)
        return Errorf(n.pos, n.text,
                      absl::StrCat("execution exceeds ", options_.max_steps, " steps"));
      if (!pipe.decl.empty()) {
        if (pipe.is_assign) {
          if (pipe.decl.size() > 1) {
            SetVar(pipe.decl[0], index);
            SetVar(pipe.decl[1], elem);
          } else {
            SetVar(pipe.decl[0], elem);
          }
        } else {
          vars_[body_mark - 1].second = elem;
          if (pipe.decl.size() > 1) vars_[body_mark - 2].second = index;
        }
      }
      absl::Status s = WalkList(elem, n.list);
      vars_.resize(body_mark);
      if (flow_ == Flow::kBreak) stop = true;
      flow_ = Flow::kNormal;
      return s;
    };
    size_t count = 0;
    absl::Status s;
    switch (val->kind()) {
      case Value::Kind::kList: {
        const List& l = val->as_list();
        for (size_t i = 0; i < l.size() && !stop && s.ok(); ++i, ++count)
          s = one(Value(static_cast<int64_t>(i)), l[i]);
        count = l.size();
        break;
      }
      case Value::Kind::kMap: {
        const Map& m = val->as_map();
        for (auto it = m.begin(); it != m.end() && !stop && s.ok(); ++it)
          s = one(Value(it->first), it->second);
        count = m.size();
        break;
      }
      case Value::Kind::kInt: {
        int64_t limit = val->as_int();
        if (pipe.decl.size() > 1)
          return Errorf(
              pipe.pos, pipe.text,
              absl::StrCat("can't use ", limit, " to iterate over more than one variable"));
        for (int64_t i = 0; i < limit && !stop && s.ok(); ++i) s = one(Value(i), Value(i));
        count = limit > 0 ? limit : 0;
        break;
      }
      case Value::Kind::kNull:
        break;
      default:
        return Errorf(pipe.pos, pipe.text,
                      absl::StrCat("range can't iterate over ", FormatValue(*val)));
    }
    if (!s.ok()) return s;
    if (count == 0 && n.has_else) s = WalkList(dot, n.else_list);
    vars_.resize(mark);
    return s;
  }

  absl::Status WalkTemplate(const Value& dot, const Node& n) {
    auto it = set_.trees.find(n.template_name);
    if (it == set_.trees.end())
      return Errorf(n.pos, n.text,
                    absl::StrCat("template ", internal::GoQuote(n.template_name), " not defined"));
    if (depth_ >= options_.max_call_depth)
      return Errorf(
          n.pos, n.text,
          absl::StrCat("exceeded maximum template depth (", options_.max_call_depth, ")"));
    Value new_dot;
    if (n.pipe) {
      auto v = EvalPipeline(dot, *n.pipe);
      if (!v.ok()) return v.status();
      new_dot = std::move(*v);
    }
    std::vector<std::pair<std::string, Value>> saved_vars;
    saved_vars.swap(vars_);
    vars_.push_back({"$", new_dot});
    const Tree* saved_tree = tree_;
    tree_ = it->second.get();
    ++depth_;
    absl::Status s = WalkList(new_dot, tree_->root);
    --depth_;
    tree_ = saved_tree;
    vars_.swap(saved_vars);
    flow_ = Flow::kNormal;
    return s;
  }

  void SetVar(const std::string& name, const Value& v) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) {
        it->second = v;
        return;
      }
    }
  }

  absl::StatusOr<Value> LookupVar(const Arg& a) const {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
      if (it->first == a.name) return it->second;
    return Errorf(a.pos, a.text, absl::StrCat("undefined variable: ", a.name));
  }

  absl::StatusOr<Value> EvalPipeline(const Value& dot, const Pipe& pipe) {
    Value value;
    bool has_final = false;
    for (const Command& cmd : pipe.cmds) {
      auto v = EvalCommand(dot, cmd, has_final ? &value : nullptr);
      if (!v.ok()) return v.status();
      value = std::move(*v);
      has_final = true;
    }
    for (const std::string& var : pipe.decl) {
      if (pipe.is_assign) {
        SetVar(var, value);
      } else {
        vars_.push_back({var, value});
      }
    }
    return value;
  }

  absl::Status NotAFunction(const Command& cmd, const Value* final) const {
    if (cmd.args.size() > 1 || final != nullptr)
      return Errorf(cmd.args[0].pos, cmd.args[0].text,
                    absl::StrCat("can't give argument to non-function ", cmd.args[0].text));
    return absl::OkStatus();
  }

  absl::StatusOr<Value> EvalCommand(const Value& dot, const Command& cmd, const Value* final) {
    const Arg& first = cmd.args[0];
    bool has_args = cmd.args.size() > 1 || final != nullptr;
    switch (first.type) {
      case ArgType::kField:
        return EvalFieldChain(dot, first, first.fields, has_args);
      case ArgType::kChain: {
        if (first.base->type == ArgType::kNil)
          return Errorf(first.pos, first.text,
                        absl::StrCat("indirection through explicit nil in ", first.text));
        auto base = EvalArg(dot, *first.base);
        if (!base.ok()) return base.status();
        return EvalFieldChain(*base, first, first.fields, has_args);
      }
      case ArgType::kFunc:
        return EvalFunction(dot, first, std::span<const Arg>(cmd.args).subspan(1), final, cmd.pos,
                            cmd.text);
      case ArgType::kPipe:
        if (auto s = NotAFunction(cmd, final); !s.ok()) return s;
        return EvalPipeline(dot, *first.pipe);
      case ArgType::kVariable: {
        auto v = LookupVar(first);
        if (!v.ok()) return v.status();
        if (first.fields.empty()) {
          if (auto s = NotAFunction(cmd, final); !s.ok()) return s;
          return v;
        }
        return EvalFieldChain(*v, first, first.fields, has_args);
      }
      default:
        break;
    }
    if (auto s = NotAFunction(cmd, final); !s.ok()) return s;
    switch (first.type) {
      case ArgType::kDot:
        return dot;
      case ArgType::kNil:
        return Errorf(first.pos, first.text, "nil is not a command");
      default:
        return first.constant;
    }
  }

  // Walks .a.b.c from receiver; only the last field may see arguments (and then fails, since
  // map entries are not methods).
  absl::StatusOr<Value> EvalFieldChain(const Value& receiver, const Arg& node,
                                       const std::vector<std::string>& fields, bool has_args) {
    const Value* cur = &receiver;
    static const Value kNull;
    for (size_t i = 0; i < fields.size(); ++i) {
      if (cur->is_null()) return kNull;  // Go: a missing key yields no value, not an error.
      if (!cur->is_map())
        return Errorf(
            node.pos, node.text,
            absl::StrCat("can't evaluate field ", fields[i], " in type ", cur->TypeName()));
      if (i + 1 == fields.size() && has_args)
        return Errorf(node.pos, node.text,
                      absl::StrCat(fields[i], " is not a method but has arguments"));
      const Value* next = cur->Find(fields[i]);
      cur = next ? next : &kNull;
    }
    return *cur;
  }

  absl::StatusOr<Value> EvalArg(const Value& dot, const Arg& a) {
    switch (a.type) {
      case ArgType::kDot:
        return dot;
      case ArgType::kNil:
        return Value();
      case ArgType::kField:
        return EvalFieldChain(dot, a, a.fields, false);
      case ArgType::kVariable: {
        auto v = LookupVar(a);
        if (!v.ok() || a.fields.empty()) return v;
        return EvalFieldChain(*v, a, a.fields, false);
      }
      case ArgType::kPipe:
        return EvalPipeline(dot, *a.pipe);
      case ArgType::kFunc:
        return EvalFunction(dot, a, {}, nullptr, a.pos, a.text);
      case ArgType::kChain: {
        if (a.base->type == ArgType::kNil)
          return Errorf(a.pos, a.text,
                        absl::StrCat("indirection through explicit nil in ", a.text));
        auto base = EvalArg(dot, *a.base);
        if (!base.ok()) return base.status();
        return EvalFieldChain(*base, a, a.fields, false);
      }
      default:
        return a.constant;
    }
  }

  absl::StatusOr<Value> EvalFunction(const Value& dot, const Arg& ident, std::span<const Arg> args,
                                     const Value* final, int pos, const std::string& text) {
    const Function& fn = *ident.func;
    int num_in = static_cast<int>(args.size()) + (final ? 1 : 0);
    if (fn.max_args < 0 && num_in < fn.min_args) {
      return Errorf(ident.pos, ident.text,
                    absl::StrCat("wrong number of args for ", ident.name, ": want at least ",
                                 fn.min_args, " got ", num_in));
    }
    if (fn.max_args >= 0 && (num_in < fn.min_args || num_in > fn.max_args)) {
      std::string want = fn.min_args == fn.max_args
                             ? absl::StrCat(fn.min_args)
                             : absl::StrCat(fn.min_args, " to ", fn.max_args);
      return Errorf(
          ident.pos, ident.text,
          absl::StrCat("wrong number of args for ", ident.name, ": want ", want, " got ", num_in));
    }
    if ((ident.name == "and" && !set_.user_and) || (ident.name == "or" && !set_.user_or)) {
      // Short-circuit: stop at the first operand that decides, and return it.
      bool want = ident.name == "or";
      Value v;
      for (const Arg& a : args) {
        auto r = EvalArg(dot, a);
        if (!r.ok()) return r.status();
        if (r->Truthy() == want) return r;
        v = std::move(*r);
      }
      if (final) v = *final;
      return v;
    }
    std::vector<Value> values;
    values.reserve(num_in);
    for (const Arg& a : args) {
      auto r = EvalArg(dot, a);
      if (!r.ok()) return r.status();
      values.push_back(std::move(*r));
    }
    if (final) values.push_back(*final);
    auto result = fn.call(values);
    if (!result.ok())
      return Errorf(pos, text,
                    absl::StrCat("error calling ", ident.name, ": ", result.status().message()));
    return result;
  }

  const TemplateSet::Impl& set_;
  const ExecuteOptions& options_;
  const Tree* tree_;
  std::string out_;
  std::vector<std::pair<std::string, Value>> vars_;
  Flow flow_ = Flow::kNormal;
  int depth_ = 0;
  int64_t steps_ = 0;
};

const FuncMap& BuiltinMap() {
  static const FuncMap* m = new FuncMap(Builtins());
  return *m;
}

}  // namespace

TemplateSet::TemplateSet(FuncMap funcs) : impl_(std::make_unique<Impl>()) {
  impl_->funcs = BuiltinMap();
  impl_->user_and = funcs.count("and") > 0;
  impl_->user_or = funcs.count("or") > 0;
  for (auto& [name, f] : funcs) impl_->funcs[name] = std::move(f);
}
TemplateSet::~TemplateSet() = default;
TemplateSet::TemplateSet(TemplateSet&&) noexcept = default;
TemplateSet& TemplateSet::operator=(TemplateSet&&) noexcept = default;

absl::Status TemplateSet::Parse(std::string_view name, std::string_view text) {
  auto trees = internal::ParseTrees(name, text, impl_->funcs);
  if (!trees.ok()) return trees.status();
  for (auto& tree : *trees) {
    auto it = impl_->trees.find(tree->name);
    if (it != impl_->trees.end() && internal::IsEmptyTree(tree->root)) continue;
    std::string tree_name = tree->name;
    impl_->trees[tree_name] = std::shared_ptr<const Tree>(std::move(tree));
  }
  return absl::OkStatus();
}

bool TemplateSet::Has(std::string_view name) const {
  return impl_->trees.find(name) != impl_->trees.end();
}

std::vector<std::string> TemplateSet::Names() const {
  std::vector<std::string> names;
  for (const auto& [name, tree] : impl_->trees) names.push_back(name);
  return names;
}

absl::StatusOr<std::string> TemplateSet::Execute(std::string_view name, const Value& data,
                                                 const ExecuteOptions& options) const {
  auto it = impl_->trees.find(name);
  if (it == impl_->trees.end()) {
    std::string known;
    for (const auto& [n, t] : impl_->trees) absl::StrAppend(&known, known.empty() ? "" : ", ", n);
    return absl::NotFoundError(absl::StrCat("template: no template ", internal::GoQuote(name),
                                            " in the set (defined: ", known, ")"));
  }
  State state(*impl_, options, it->second.get());
  if (auto s = state.Run(data); !s.ok()) return s;
  return std::move(state.out());
}

absl::StatusOr<Template> Parse(std::string_view name, std::string_view text, FuncMap funcs) {
  Template t;
  t.name_ = std::string(name);
  t.set_ = std::make_shared<TemplateSet>(std::move(funcs));
  if (auto s = t.set_->Parse(name, text); !s.ok()) return s;
  return t;
}

}  // namespace optimus::tmpl
