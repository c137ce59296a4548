// Optimus' template functions and its two-pass asset compiler.
#include "optimus/template/optimus_funcs.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "go_fmt.h"
#include "optimus/schedule/time_util.h"
#include "optimus/template/go_time.h"

namespace optimus::tmpl {
namespace {

absl::Status WrongType(const Value& v, const std::string& expected) {
  if (v.is_null())
    return absl::InvalidArgumentError(absl::StrCat("invalid value; expected ", expected));
  return absl::InvalidArgumentError(
      absl::StrCat("wrong type for value; expected ", expected, "; got ", v.TypeName()));
}

absl::StatusOr<std::string> Str(const Value& v) {
  if (!v.is_string()) return WrongType(v, "string");
  return v.as_string();
}

absl::StatusOr<GoTime> Time(const Value& v) {
  if (!v.is_time()) return WrongType(v, "time.Time");
  return v.as_time();
}

std::string ReplaceAll(const std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  if (from.empty()) {  // Go inserts `to` around every UTF-8 sequence.
    out += to;
    for (size_t i = 0; i < s.size();) {
      size_t n = 1;
      unsigned char c = s[i];
      if (c >= 0xF0)
        n = 4;
      else if (c >= 0xE0)
        n = 3;
      else if (c >= 0xC0)
        n = 2;
      out.append(s, i, n);
      out += to;
      i += n;
    }
    return out;
  }
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    out.append(s, pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out.append(s, pos, std::string::npos);
  return out;
}

// Optimus' getValueOnOp: "" keeps val, "+n"/"-n" shift it, "n" replaces it.
absl::StatusOr<int64_t> ValueOnOp(const std::string& op, int64_t val) {
  if (op.empty()) return val;
  std::string num = (op[0] == '+' || op[0] == '-') ? op.substr(1) : op;
  // strconv.Atoi: optional sign then decimal digits.
  std::string digits = num;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) digits = digits.substr(1);
  bool ok = !digits.empty() && digits.size() <= 18;
  for (char c : digits) ok = ok && c >= '0' && c <= '9';
  if (!ok)
    return absl::InvalidArgumentError(
        absl::StrCat("strconv.Atoi: parsing ", internal::GoQuote(num), ": invalid syntax"));
  int64_t n = std::strtoll(num.c_str(), nullptr, 10);
  if (op[0] == '+') return val + n;
  if (op[0] == '-') return val - n;
  return n;
}

absl::StatusOr<GoTime> DateFrom(const std::string& day, const std::string& month, const GoTime& t) {
  absl::TimeZone::CivilInfo ci = t.zone.At(t.instant);
  auto d = ValueOnOp(day, ci.cs.day());
  if (!d.ok()) return d.status();
  auto m = ValueOnOp(month, ci.cs.month());
  if (!m.ok()) return m.status();
  // time.Date normalises out-of-range months and days, as CivilSecond does.
  absl::CivilSecond cs(ci.cs.year(), *m, *d, ci.cs.hour(), ci.cs.minute(), ci.cs.second());
  return GoTime{absl::FromCivil(cs, t.zone) + ci.subsecond, t.zone};
}

}  // namespace

namespace {

// The context of the render in progress on this thread, for the functions of cached sets.
thread_local const FuncContext* tl_context = nullptr;

class ScopedFuncContext {
 public:
  explicit ScopedFuncContext(const FuncContext& ctx) : saved_(tl_context) { tl_context = &ctx; }
  ~ScopedFuncContext() { tl_context = saved_; }
  ScopedFuncContext(const ScopedFuncContext&) = delete;
  ScopedFuncContext& operator=(const ScopedFuncContext&) = delete;

 private:
  const FuncContext* saved_;
};

// The functions, each asking `context()` for the zone and the time when it runs.
FuncMap BuildFuncMap(std::function<const FuncContext&()> context);

}  // namespace

FuncMap OptimusFuncMap(const FuncContext& ctx) {
  return BuildFuncMap([ctx]() -> const FuncContext& { return ctx; });
}

namespace {

FuncMap BuildFuncMap(std::function<const FuncContext&()> context) {
  FuncMap m;
  using Args = std::span<const Value>;
  m["Date"] = {[](Args a) -> absl::StatusOr<Value> {
                 auto s = Str(a[0]);
                 if (!s.ok()) return s.status();
                 auto t = ParseGoTime(kRfc3339, *s, absl::UTCTimeZone());
                 if (!t.ok()) return t.status();
                 return Value(FormatGoTime(*t, kIsoDate));
               },
               1, 1};
  m["replace"] = {[](Args a) -> absl::StatusOr<Value> {
                    auto from = Str(a[0]);
                    if (!from.ok()) return from.status();
                    auto to = Str(a[1]);
                    if (!to.ok()) return to.status();
                    auto s = Str(a[2]);
                    if (!s.ok()) return s.status();
                    return Value(ReplaceAll(*s, *from, *to));
                  },
                  3, 3};
  m["trunc"] = {[](Args a) -> absl::StatusOr<Value> {
                  if (!a[0].is_int()) return WrongType(a[0], "int");
                  auto s = Str(a[1]);
                  if (!s.ok()) return s.status();
                  int64_t c = a[0].as_int();
                  if (c >= 0 && static_cast<int64_t>(s->size()) > c) return Value(s->substr(0, c));
                  return Value(*s);
                },
                2, 2};
  m["date"] = {[context](Args a) -> absl::StatusOr<Value> {
                 const FuncContext& ctx = context();
                 auto layout = Str(a[0]);
                 if (!layout.ok()) return layout.status();
                 absl::Time t = ctx.now;
                 if (a[1].is_time())
                   t = a[1].as_time().instant;
                 else if (a[1].is_int())
                   t = absl::FromUnixSeconds(a[1].as_int());
                 return Value(FormatGoTime(GoTime{t, ctx.zone}, *layout));
               },
               2, 2};
  m["date_modify"] = {[](Args a) -> absl::StatusOr<Value> {
                        auto d = Str(a[0]);
                        if (!d.ok()) return d.status();
                        auto t = Time(a[1]);
                        if (!t.ok()) return t.status();
                        auto dur = schedule::ParseGoDuration(*d);
                        if (!dur.ok()) return Value(*t);  // Optimus ignores a bad duration.
                        return Value(GoTime{t->instant + *dur, t->zone});
                      },
                      2, 2};
  m["toDate"] = {[context](Args a) -> absl::StatusOr<Value> {
                   const FuncContext& ctx = context();
                   auto layout = Str(a[0]);
                   if (!layout.ok()) return layout.status();
                   auto s = Str(a[1]);
                   if (!s.ok()) return s.status();
                   auto t = ParseGoTime(*layout, *s, ctx.zone);
                   if (!t.ok()) {
                     // Optimus ignores the error and gets Go's zero time.
                     return Value(GoTime{
                         absl::FromCivil(absl::CivilSecond(1, 1, 1, 0, 0, 0), absl::UTCTimeZone()),
                         absl::UTCTimeZone()});
                   }
                   return Value(*t);
                 },
                 2, 2};
  m["unixEpoch"] = {[](Args a) -> absl::StatusOr<Value> {
                      auto t = Time(a[0]);
                      if (!t.ok()) return t.status();
                      return Value(std::to_string(absl::ToUnixSeconds(t->instant)));
                    },
                    1, 1};
  m["list"] = {[](Args a) -> absl::StatusOr<Value> {
                 List out;
                 for (const Value& v : a) {
                   if (!v.is_string()) return WrongType(v, "string");
                   out.push_back(v);
                 }
                 return Value(std::move(out));
               },
               0, -1};
  m["join"] = {[](Args a) -> absl::StatusOr<Value> {
                 auto sep = Str(a[0]);
                 if (!sep.ok()) return sep.status();
                 if (!a[1].is_list()) return WrongType(a[1], "[]string");
                 std::vector<std::string> parts;
                 for (const Value& v : a[1].as_list()) {
                   if (!v.is_string()) return WrongType(a[1], "[]string");
                   parts.push_back(v.as_string());
                 }
                 return Value(absl::StrJoin(parts, *sep));
               },
               2, 2};
  m["dateFrom"] = {[](Args a) -> absl::StatusOr<Value> {
                     auto day = Str(a[0]);
                     if (!day.ok()) return day.status();
                     auto month = Str(a[1]);
                     if (!month.ok()) return month.status();
                     auto t = Time(a[2]);
                     if (!t.ok()) return t.status();
                     auto r = DateFrom(*day, *month, *t);
                     if (!r.ok()) return r.status();
                     return Value(*r);
                   },
                   3, 3};
  m["dateFromStr"] = {[](Args a) -> absl::StatusOr<Value> {
                        auto day = Str(a[0]);
                        if (!day.ok()) return day.status();
                        auto month = Str(a[1]);
                        if (!month.ok()) return month.status();
                        auto s = Str(a[2]);
                        if (!s.ok()) return s.status();
                        auto t = ParseGoTime(kRfc3339, *s, absl::UTCTimeZone());
                        if (!t.ok()) return t.status();
                        auto r = DateFrom(*day, *month, *t);
                        if (!r.ok()) return r.status();
                        return Value(FormatGoTime(*r, kIsoDate));
                      },
                      3, 3};
  return m;
}

bool HasAction(std::string_view text) { return text.find("{{") != std::string_view::npos; }

std::string Trimmed(std::string_view text) {
  return std::string(absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
}

// The functions of a cached set: they read the thread's context (ScopedFuncContext).
const FuncMap& ContextualFuncMap() {
  static const FuncMap* m = new FuncMap(BuildFuncMap([]() -> const FuncContext& {
    static const FuncContext kDefault;
    return tl_context != nullptr ? *tl_context : kDefault;
  }));
  return *m;
}

absl::StatusOr<std::string> ExecuteTrimmed(const TemplateSet& set, std::string_view name,
                                           const Value& data) {
  auto out = set.Execute(name, data);
  if (!out.ok()) return out.status();
  return Trimmed(*out);
}

absl::Status ParseAssets(TemplateSet& set, const std::map<std::string, std::string>& files) {
  for (const auto& [name, text] : files) {
    if (auto s = set.Parse(name, text); !s.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("unable to parse asset ", name, ": ", s.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> ExecuteAssets(
    const TemplateSet& set, const std::map<std::string, std::string>& files, const Value& data) {
  std::map<std::string, std::string> rendered;
  for (const auto& [name, text] : files) {
    if (IsPartialAsset(name)) {
      rendered[name] = text;
      continue;
    }
    auto out = set.Execute(name, data);
    if (!out.ok())
      return absl::InvalidArgumentError(
          absl::StrCat("unable to render asset ", name, ": ", out.status().message()));
    rendered[name] = Trimmed(*out);
  }
  return rendered;
}

bool AnyAction(const std::map<std::string, std::string>& files) {
  return std::any_of(files.begin(), files.end(), [](const auto& f) { return HasAction(f.second); });
}

std::map<std::string, std::string> Verbatim(const std::map<std::string, std::string>& files) {
  std::map<std::string, std::string> rendered;
  for (const auto& [name, text] : files) {
    rendered[name] = IsPartialAsset(name) ? text : Trimmed(text);
  }
  return rendered;
}

}  // namespace

bool IsPartialAsset(std::string_view filename) {
  for (std::string_view ext : {".gtpl", ".j2", ".tmpl", ".tpl"}) {
    if (filename.size() >= ext.size() && filename.substr(filename.size() - ext.size()) == ext)
      return true;
  }
  return false;
}

absl::StatusOr<std::string> CompileString(std::string_view name, std::string_view text,
                                          const Value& data, const FuncContext& ctx) {
  // Text without an action renders as itself: most config values and many queries are plain,
  // and building a set of functions costs more than the rest of a job's resolution.
  if (!HasAction(text)) return Trimmed(text);
  TemplateSet set(OptimusFuncMap(ctx));
  if (auto s = set.Parse(name, text); !s.ok()) return s;
  return ExecuteTrimmed(set, name, data);
}

absl::StatusOr<std::map<std::string, std::string>> CompileAssets(
    const std::map<std::string, std::string>& files, const Value& data, const FuncContext& ctx) {
  // Without an action in any file (none defines a template another could name), each file
  // renders as itself.
  if (!AnyAction(files)) return Verbatim(files);
  TemplateSet set(OptimusFuncMap(ctx));
  if (absl::Status s = ParseAssets(set, files); !s.ok()) return s;
  return ExecuteAssets(set, files, data);
}

struct TemplateCache::Entry {
  absl::Status parsed;
  TemplateSet set{ContextualFuncMap()};
};

TemplateCache::TemplateCache(size_t max_entries, size_t max_bytes)
    : max_entries_(std::max<size_t>(1, max_entries)), max_bytes_(max_bytes) {}
TemplateCache::~TemplateCache() = default;

std::shared_ptr<const TemplateCache::Entry> TemplateCache::Find(
    const std::string& key, const std::function<void(Entry&)>& parse) const {
  {
    std::shared_lock lock(mu_);
    if (auto it = entries_.find(key); it != entries_.end()) return it->second;
  }
  auto entry = std::make_shared<Entry>();
  parse(*entry);
  std::unique_lock lock(mu_);
  // Past a bound it starts afresh: the texts asked for again come back at once. A text larger
  // than the whole budget is rendered but not kept.
  if (key.size() > max_bytes_) return entry;
  if (entries_.size() >= max_entries_ || bytes_ + key.size() > max_bytes_) {
    entries_.clear();
    bytes_ = 0;
  }
  auto [it, added] = entries_.emplace(key, std::move(entry));
  if (added) bytes_ += key.size();
  return it->second;
}

size_t TemplateCache::size() const {
  std::shared_lock lock(mu_);
  return entries_.size();
}

absl::StatusOr<std::string> TemplateCache::CompileString(std::string_view name,
                                                         std::string_view text, const Value& data,
                                                         const FuncContext& ctx) const {
  if (!HasAction(text)) return Trimmed(text);
  std::string key = absl::StrCat("s", name.size(), ":", absl::string_view(name.data(), name.size()),
                                 absl::string_view(text.data(), text.size()));
  auto entry = Find(key, [&](Entry& e) { e.parsed = e.set.Parse(name, text); });
  if (!entry->parsed.ok()) return entry->parsed;
  ScopedFuncContext scope(ctx);
  return ExecuteTrimmed(entry->set, name, data);
}

absl::StatusOr<std::map<std::string, std::string>> TemplateCache::CompileAssets(
    const std::map<std::string, std::string>& files, const Value& data,
    const FuncContext& ctx) const {
  if (!AnyAction(files)) return Verbatim(files);
  std::string key = "a";
  for (const auto& [name, text] : files)
    absl::StrAppend(&key, name.size(), ":", name, text.size(), ":", text);
  auto entry = Find(key, [&](Entry& e) { e.parsed = ParseAssets(e.set, files); });
  if (!entry->parsed.ok()) return entry->parsed;
  ScopedFuncContext scope(ctx);
  return ExecuteAssets(entry->set, files, data);
}

}  // namespace optimus::tmpl
