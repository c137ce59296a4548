// Go's fmt printing rules, reimplemented for the value kinds a template can hold.
#include "go_fmt.h"

#include <cmath>
#include <cstdio>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace optimus::tmpl::internal {
namespace {

struct Spec {
  bool plus = false, minus = false, sharp = false, space = false, zero = false;
  int width = -1, precision = -1;
  char verb = 'v';
};

void AppendUtf8(std::string& out, uint32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) r = 0xFFFD;
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
}

// Decodes one UTF-8 rune at s[i]; returns its length (1 with 0xFFFD when invalid).
int DecodeRune(std::string_view s, size_t i, uint32_t* r) {
  unsigned char c = s[i];
  int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    *r = 0xFFFD;
    return 1;
  }
  if (n == 1) {
    *r = c;
    return 1;
  }
  uint32_t v = c & (0x7F >> n);
  for (int k = 1; k < n; ++k) {
    unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80) {
      *r = 0xFFFD;
      return 1;
    }
    v = (v << 6) | (cc & 0x3F);
  }
  *r = v;
  return n;
}

std::string Pad(std::string body, const Spec& spec, bool numeric) {
  int len = 0;
  for (size_t i = 0; i < body.size(); ++i)
    if ((static_cast<unsigned char>(body[i]) & 0xC0) != 0x80) ++len;  // Width counts runes.
  if (spec.width < 0 || len >= spec.width) return body;
  size_t fill = spec.width - len;
  if (spec.minus) return body + std::string(fill, ' ');
  if (spec.zero) {
    // Numbers keep their sign in front of the zeros; Go pads strings with zeros as they are.
    size_t sign =
        numeric && !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ') ? 1 : 0;
    return body.substr(0, sign) + std::string(fill, '0') + body.substr(sign);
  }
  return std::string(fill, ' ') + body;
}

std::string FormatInt(int64_t v, const Spec& spec) {
  uint64_t u = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  int base = 10;
  const char* digits = "0123456789abcdef";
  std::string prefix;
  switch (spec.verb) {
    case 'x':
      base = 16;
      if (spec.sharp) prefix = "0x";
      break;
    case 'X':
      base = 16;
      digits = "0123456789ABCDEF";
      if (spec.sharp) prefix = "0X";
      break;
    case 'o':
      base = 8;
      if (spec.sharp) prefix = "0";
      break;
    case 'b':
      base = 2;
      break;
    default:
      break;
  }
  std::string num;
  do {
    num.insert(num.begin(), digits[u % base]);
    u /= base;
  } while (u != 0);
  if (spec.precision >= 0) {
    if (spec.precision == 0 && v == 0) num.clear();
    while (static_cast<int>(num.size()) < spec.precision) num.insert(num.begin(), '0');
  }
  std::string sign = v < 0 ? "-" : spec.plus ? "+" : spec.space ? " " : "";
  Spec pad = spec;
  if (spec.precision >= 0) pad.zero = false;  // Go: precision turns off zero padding.
  return Pad(sign + prefix + num, pad, true);
}

std::string FormatFloat(double d, const Spec& spec) {
  std::string body;
  char verb = spec.verb == 'v' ? 'g' : spec.verb == 'F' ? 'f' : spec.verb;
  if (std::isinf(d) || std::isnan(d)) {
    body = std::isnan(d) ? "NaN" : d > 0 ? (spec.plus ? "+Inf" : "Inf") : "-Inf";
    if (spec.verb == 'v' && !std::isnan(d) && d > 0 && !spec.plus) body = "+Inf";
    Spec pad = spec;
    pad.zero = false;
    return Pad(body, pad, false);
  }
  if ((verb == 'g' || verb == 'G') && spec.precision < 0 && !spec.sharp) {
    body = FormatGoFloat(d);
    if (verb == 'G')
      for (char& c : body)
        if (c == 'e') c = 'E';
  } else {
    std::string f = "%";
    if (spec.sharp) f += '#';
    f += '.';
    f += std::to_string(spec.precision < 0 ? 6 : spec.precision);
    f += verb;
    char buf[512];
    int n = std::snprintf(buf, sizeof buf, f.c_str(), d);
    if (n < 0 || n >= static_cast<int>(sizeof buf)) {
      std::vector<char> big(n + 1);
      std::snprintf(big.data(), big.size(), f.c_str(), d);
      body.assign(big.data(), n);
    } else {
      body.assign(buf, n);
    }
  }
  if (body[0] != '-') {
    if (spec.plus)
      body = "+" + body;
    else if (spec.space)
      body = " " + body;
  }
  return Pad(body, spec, true);
}

std::string HexBytes(std::string_view s, const Spec& spec) {
  const char* digits = spec.verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (spec.space && i > 0) out += ' ';
    if (spec.sharp && (spec.space || i == 0)) out += spec.verb == 'X' ? "0X" : "0x";
    unsigned char c = s[i];
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string Truncate(const std::string& s, int precision) {
  if (precision < 0) return s;
  size_t i = 0;
  int runes = 0;
  while (i < s.size() && runes < precision) {
    uint32_t r;
    i += DecodeRune(s, i, &r);
    ++runes;
  }
  return s.substr(0, i);
}

std::string BadVerb(const Value& v, char verb) {
  if (v.is_null()) return absl::StrCat("%!", std::string(1, verb), "(<nil>)");
  return absl::StrCat("%!", std::string(1, verb), "(", v.TypeName(), "=", FormatValue(v), ")");
}

std::string FormatOne(const Value& v, const Spec& spec) {
  char verb = spec.verb;
  if (verb == 'T') return Pad(v.TypeName(), spec, false);
  switch (v.kind()) {
    case Value::Kind::kNull:
      if (verb == 'v') return Pad("<nil>", spec, false);
      return BadVerb(v, verb);
    case Value::Kind::kBool:
      if (verb == 'v' || verb == 't') return Pad(v.as_bool() ? "true" : "false", spec, false);
      return BadVerb(v, verb);
    case Value::Kind::kInt: {
      switch (verb) {
        case 'v':
        case 'd':
        case 'x':
        case 'X':
        case 'o':
        case 'b': {
          Spec s = spec;
          if (verb == 'v') s.verb = 'd';
          return FormatInt(v.as_int(), s);
        }
        case 'c': {
          std::string out;
          AppendUtf8(out, static_cast<uint32_t>(v.as_int()));
          return Pad(out, spec, false);
        }
        case 'q': {
          std::string ch;
          AppendUtf8(ch, static_cast<uint32_t>(v.as_int()));
          std::string q = GoQuote(ch, spec.plus);
          if (ch == "'") q = "\"'\"";
          std::string out =
              "'" + (ch == "\"" ? std::string("\"") : q.substr(1, q.size() - 2)) + "'";
          if (ch == "'") out = "'\\''";
          return Pad(out, spec, false);
        }
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
        default:
          return BadVerb(v, verb);
      }
    }
    case Value::Kind::kDouble:
      switch (verb) {
        case 'x':
        case 'X':
        case 'b':
          return std::string("\x01unsupported");  // Hex/binary floats: reported by GoSprintf.
        case 'v':
        case 'e':
        case 'E':
        case 'f':
        case 'F':
        case 'g':
        case 'G':
          return FormatFloat(v.as_double(), spec);
        default:
          return BadVerb(v, verb);
      }
    case Value::Kind::kString:
    case Value::Kind::kTime: {
      std::string s = v.is_string() ? v.as_string() : FormatValue(v);
      switch (verb) {
        case 'v':
        case 's':
          return Pad(Truncate(s, spec.precision), spec, false);
        case 'q':
          if (spec.sharp && s.find('`') == std::string::npos) {
            bool printable = true;
            for (char c : s)
              if (static_cast<unsigned char>(c) < 0x20 && c != '\t') printable = false;
            if (printable) return Pad("`" + Truncate(s, spec.precision) + "`", spec, false);
          }
          return Pad(GoQuote(Truncate(s, spec.precision), spec.plus), spec, false);
        case 'x':
        case 'X':
          return Pad(HexBytes(spec.precision >= 0 ? s.substr(0, spec.precision) : s, spec), spec,
                     false);
        default:
          return BadVerb(v, verb);
      }
    }
    case Value::Kind::kList: {
      std::string out = "[";
      bool first = true;
      for (const Value& e : v.as_list()) {
        if (!first) out += ' ';
        first = false;
        out += FormatOne(e, spec);
      }
      return out + "]";
    }
    case Value::Kind::kMap: {
      std::string out = "map[";
      bool first = true;
      for (const auto& [k, e] : v.as_map()) {
        if (!first) out += ' ';
        first = false;
        out += FormatOne(Value(k), spec) + ":" + FormatOne(e, spec);
      }
      return out + "]";
    }
  }
  return "";
}

}  // namespace

std::string GoQuote(std::string_view s, bool ascii_only) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    uint32_t r;
    int n = DecodeRune(s, i, &r);
    bool invalid = (r == 0xFFFD && n == 1 && static_cast<unsigned char>(s[i]) >= 0x80);
    if (invalid) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(s[i]));
      out += buf;
    } else if (r == '"' || r == '\\') {
      out += '\\';
      out += static_cast<char>(r);
    } else if (r >= 0x20 && r < 0x7F) {
      out += static_cast<char>(r);
    } else if (r == '\a') {
      out += "\\a";
    } else if (r == '\b') {
      out += "\\b";
    } else if (r == '\f') {
      out += "\\f";
    } else if (r == '\n') {
      out += "\\n";
    } else if (r == '\r') {
      out += "\\r";
    } else if (r == '\t') {
      out += "\\t";
    } else if (r == '\v') {
      out += "\\v";
    } else if (r < 0x20 || r == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", r);
      out += buf;
    } else if (r >= 0x80 && !ascii_only && !(r >= 0x80 && r < 0xA0)) {
      out.append(s.substr(i, n));
    } else {
      char buf[16];
      if (r < 0x10000)
        std::snprintf(buf, sizeof buf, "\\u%04x", r);
      else
        std::snprintf(buf, sizeof buf, "\\U%08x", r);
      out += buf;
    }
    i += n;
  }
  return out + "\"";
}

std::string GoSprint(std::span<const Value> args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0 && !args[i].is_string() && !args[i - 1].is_string()) out += ' ';
    out += FormatValue(args[i]);
  }
  return out;
}

std::string GoSprintln(std::span<const Value> args) {
  std::string out;
  for (size_t i = 0; i < args.size(); ++i) {
    if (i > 0) out += ' ';
    out += FormatValue(args[i]);
  }
  return out + "\n";
}

absl::StatusOr<std::string> GoSprintf(std::string_view format, std::span<const Value> args) {
  std::string out;
  size_t argi = 0;
  size_t i = 0;
  while (i < format.size()) {
    size_t pct = format.find('%', i);
    if (pct == std::string_view::npos) {
      out.append(format.substr(i));
      break;
    }
    out.append(format.substr(i, pct - i));
    i = pct + 1;
    Spec spec;
    for (; i < format.size(); ++i) {
      char c = format[i];
      if (c == '+')
        spec.plus = true;
      else if (c == '-')
        spec.minus = true;
      else if (c == '#')
        spec.sharp = true;
      else if (c == ' ')
        spec.space = true;
      else if (c == '0')
        spec.zero = !spec.minus;
      else
        break;
    }
    auto number = [&](int* into) -> absl::Status {
      if (i < format.size() && (format[i] == '*' || format[i] == '[')) {
        return absl::InvalidArgumentError(
            "printf: '*' widths and [n] argument indexes are not supported");
      }
      if (i < format.size() && format[i] >= '0' && format[i] <= '9') {
        int n = 0;
        while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
          n = n * 10 + (format[i++] - '0');
          if (n > 1000000)
            return absl::InvalidArgumentError("printf: width or precision too large");
        }
        *into = n;
      }
      return absl::OkStatus();
    };
    if (auto s = number(&spec.width); !s.ok()) return s;
    if (i < format.size() && format[i] == '.') {
      ++i;
      spec.precision = 0;
      if (auto s = number(&spec.precision); !s.ok()) return s;
    }
    if (i >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    uint32_t verb;
    int n = DecodeRune(format, i, &verb);
    i += n;
    if (verb == '%') {
      out += '%';
      continue;
    }
    static constexpr std::string_view kVerbs = "vsdqtxXobceEfFgGT";
    static constexpr std::string_view kGoOnlyVerbs = "UOpw";  // Go has them; we do not.
    std::string verb_text;
    AppendUtf8(verb_text, verb);
    auto unsupported = [&] {
      return absl::InvalidArgumentError(absl::StrCat(
          "printf: verb %", verb_text, " is not supported here (supported: %v %s %d %q %t %x ",
          "%X %o %b %c %e %E %f %F %g %G %T %%)"));
    };
    bool known = verb < 0x80 && kVerbs.find(static_cast<char>(verb)) != std::string_view::npos;
    if (verb < 0x80 && kGoOnlyVerbs.find(static_cast<char>(verb)) != std::string_view::npos)
      return unsupported();
    if (argi >= args.size()) {
      out += absl::StrCat("%!", verb_text, "(MISSING)");
      continue;
    }
    if (!known) {  // Go prints an unknown verb with its operand, like a wrong type.
      const Value& a = args[argi++];
      out += a.is_null()
                 ? absl::StrCat("%!", verb_text, "(<nil>)")
                 : absl::StrCat("%!", verb_text, "(", a.TypeName(), "=", FormatValue(a), ")");
      continue;
    }
    spec.verb = static_cast<char>(verb);
    std::string formatted = FormatOne(args[argi++], spec);
    if (formatted.find("\x01unsupported") != std::string::npos)
      return absl::InvalidArgumentError(absl::StrCat(
          "printf: %", verb_text, " of a float64 is not supported (use %f, %e or %g)"));
    out += formatted;
  }
  if (argi < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = argi; k < args.size(); ++k) {
      if (k > argi) out += ", ";
      out += args[k].is_null() ? "<nil>" : args[k].TypeName() + "=" + FormatValue(args[k]);
    }
    out += ")";
  }
  return out;
}

}  // namespace optimus::tmpl::internal
