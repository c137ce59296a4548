// A StarThinker recipe (recipe.json) as a job: its setup becomes the schedule, its tasks the
// job's recipe steps (docs/recipes.md).
#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include "checks.h"
#include "optimus/spec/loaders.h"

namespace optimus::spec {
namespace {

using nlohmann::json;

// Where each member and element of a JSON text starts, keyed by path: "setup.hour[1]",
// "tasks[0].sqlite2sqlite". A member's place is its key's. The text must already have parsed.
class JsonPlaces {
 public:
  explicit JsonPlaces(std::string_view text) : text_(text) {}

  std::map<std::string, std::pair<int, int>> Index() {
    Value("", 0);
    return std::move(places_);
  }

 private:
  static constexpr int kMaxDepth = 64;  // deeper values are not indexed

  void Next() {
    if (text_[at_] == '\n') {
      ++line_;
      column_ = 1;
    } else if ((static_cast<unsigned char>(text_[at_]) & 0xC0) != 0x80) {
      ++column_;  // a UTF-8 continuation byte is part of the character before it
    }
    ++at_;
  }
  bool More() const { return at_ < text_.size(); }
  void Space() {
    while (More() && std::isspace(static_cast<unsigned char>(text_[at_]))) Next();
  }
  void Mark(const std::string& path) { places_.emplace(path, std::make_pair(line_, column_)); }

  std::string String() {
    std::string out;
    Next();  // the opening quote
    while (More() && text_[at_] != '"') {
      if (text_[at_] == '\\') {
        Next();
        if (!More()) break;
      }
      out += text_[at_];
      Next();
    }
    if (More()) Next();
    return out;
  }

  void Value(const std::string& path, int depth) {
    Space();
    if (!More()) return;
    const char c = text_[at_];
    if (c == '"') {
      String();
    } else if (c == '{' || c == '[') {
      const bool object = c == '{';
      const char close = object ? '}' : ']';
      Next();
      for (size_t index = 0;; ++index) {
        Space();
        if (!More()) return;
        if (text_[at_] == close) break;
        std::string item;
        if (object) {
          const int line = line_, column = column_;
          const std::string key = String();
          item = path.empty() ? key : path + "." + key;
          if (depth < kMaxDepth) places_.emplace(item, std::make_pair(line, column));
          Space();
          if (More()) Next();  // ':'
          Space();
        } else {
          item = path + "[" + std::to_string(index) + "]";
          if (depth < kMaxDepth) Mark(item);
        }
        Value(item, depth + 1);
        Space();
        if (More() && text_[at_] == ',') Next();
      }
      Next();
    } else {
      while (More() && text_[at_] != ',' && text_[at_] != '}' && text_[at_] != ']' &&
             !std::isspace(static_cast<unsigned char>(text_[at_]))) {
        Next();
      }
    }
  }

  std::string_view text_;
  size_t at_ = 0;
  int line_ = 1;
  int column_ = 1;
  std::map<std::string, std::pair<int, int>> places_;
};

// Where the text's objects and arrays first nest deeper than `limit`, or npos. Iterative, so
// that what reads the parsed recipe (recursively) never meets a value deeper than that.
size_t TooDeep(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > limit) return i;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return std::string_view::npos;
}

// Line and column of a byte offset.
std::pair<int, int> PlaceOf(std::string_view text, size_t offset) {
  int line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

const std::map<std::string, int>& Weekdays() {
  static const auto* days = new std::map<std::string, int>{
      {"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3}, {"thu", 4}, {"fri", 5}, {"sat", 6}};
  return *days;
}

class RecipeReader {
 public:
  RecipeReader(const std::string& path, std::string_view text, Diagnostics& diagnostics,
               JobSpec& job)
      : path_(path), diagnostics_(diagnostics), job_(job), places_(JsonPlaces(text).Index()) {}

  Location At(const std::string& json_path) const {
    std::string p = json_path;
    while (true) {
      if (auto it = places_.find(p); it != places_.end()) {
        return Location{path_, it->second.first, it->second.second};
      }
      if (p.empty()) return Location{path_, 1, 1};
      const size_t cut = p.find_last_of(".[");
      p = cut == std::string::npos ? "" : p.substr(0, cut);
    }
  }
  void Error(const std::string& json_path, std::string message) {
    diagnostics_.Error(At(json_path), json_path, std::move(message));
  }
  void Warning(const std::string& json_path, std::string message) {
    diagnostics_.Warning(At(json_path), json_path, std::move(message));
  }
  // The job's field `field` is written at `json_path` of the recipe.
  void Record(const std::string& field, const std::string& json_path) {
    job_.locations[field] = At(json_path);
  }

  // A string member of `object`, or "" (an error when it is there but not a string).
  std::string Text(const json& object, const char* key, const std::string& path) {
    auto it = object.find(key);
    if (it == object.end() || it->is_null()) return "";
    if (!it->is_string()) {
      Error(path + "." + key, "must be a string");
      return "";
    }
    return it->get<std::string>();
  }

  // StarThinker's {"field": {"name": ..., "default": ...}} placeholders become their defaults.
  json Resolve(const json& value, const std::string& path) {
    if (value.is_object() && value.size() == 1 && value.contains("field") &&
        value["field"].is_object()) {
      const json& field = value["field"];
      const auto named = field.find("name");
      const std::string name =
          named != field.end() && named->is_string() ? named->get<std::string>() : "?";
      if (!field.contains("default")) {
        Error(path, "field \"" + name +
                        "\" has no default: give the value here, or a default in the field");
        return json();
      }
      return field["default"];
    }
    if (value.is_object()) {
      json out = json::object();
      for (const auto& [k, v] : value.items()) out[k] = Resolve(v, path + "." + k);
      return out;
    }
    if (value.is_array()) {
      json out = json::array();
      for (size_t i = 0; i < value.size(); ++i) {
        out.push_back(Resolve(value[i], path + "[" + std::to_string(i) + "]"));
      }
      return out;
    }
    return value;
  }

  void Setup(const json& setup) {
    const std::string p = "setup";
    static const std::set<std::string> kKnown = {"timezone", "day",   "hour", "start_date",
                                                 "end_date", "owner", "name", "window",
                                                 "id",       "uuid",  "auth", "version"};
    for (const auto& [key, value] : setup.items()) {
      if (kKnown.count(key) == 0) Warning(p + "." + key, "ignored: not a setup key Optimus uses");
    }
    if (std::string name = Text(setup, "name", p); !name.empty()) {
      job_.name = name;
      Record("name", p + ".name");
    }
    job_.owner = Text(setup, "owner", p);
    Record("owner", setup.contains("owner") ? p + ".owner" : p);
    job_.schedule.start_date = Text(setup, "start_date", p);
    Record("schedule.start_date", setup.contains("start_date") ? p + ".start_date" : p);
    job_.schedule.end_date = Text(setup, "end_date", p);
    Record("schedule.end_date", p + ".end_date");

    // Hours and days make a cron in the recipe's zone.
    std::set<int> hours;
    if (auto it = setup.find("hour"); it != setup.end()) {
      if (!it->is_array()) {
        Error(p + ".hour", "must be a list of hours, 0 to 23");
      } else {
        for (size_t i = 0; i < it->size(); ++i) {
          const json& h = (*it)[i];
          const std::string hp = p + ".hour[" + std::to_string(i) + "]";
          int hour = -1;
          if (h.is_number_integer()) {
            hour = h.get<int>();
          } else if (h.is_string()) {
            const std::string s = h.get<std::string>();
            if (!s.empty() && s.size() <= 2 &&
                std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(c); })) {
              hour = std::stoi(s);
            }
          }
          if (hour < 0 || hour > 23) {
            Error(hp, "invalid hour " + h.dump() + " (want 0 to 23)");
          } else {
            hours.insert(hour);
          }
        }
        if (it->empty()) Error(p + ".hour", "lists no hour (leave it out to run at hour 0)");
      }
    }
    if (hours.empty()) hours.insert(0);
    std::set<int> days;
    bool every_day = true;
    if (auto it = setup.find("day"); it != setup.end()) {
      if (!it->is_array()) {
        Error(p + ".day", "must be a list of days: Mon, Tue, Wed, Thu, Fri, Sat, Sun");
      } else {
        every_day = false;
        for (size_t i = 0; i < it->size(); ++i) {
          const json& d = (*it)[i];
          std::string key = d.is_string() ? d.get<std::string>() : "";
          for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          auto day = Weekdays().find(key.substr(0, 3));
          if (key.size() < 3 || day == Weekdays().end()) {
            Error(p + ".day[" + std::to_string(i) + "]",
                  "invalid day " + d.dump() + " (want Mon, Tue, Wed, Thu, Fri, Sat or Sun)");
          } else {
            days.insert(day->second);
          }
        }
        if (it->empty()) Error(p + ".day", "lists no day (leave it out to run every day)");
        if (days.size() == 7) every_day = true;
      }
    }
    auto join = [](const std::set<int>& values) {
      std::string out;
      for (int v : values) out += (out.empty() ? "" : ",") + std::to_string(v);
      return out;
    };
    std::string cron = "0 " + join(hours) + " * * " + (every_day ? "*" : join(days));
    const std::string zone = Text(setup, "timezone", p);
    if (!zone.empty() && zone != "UTC" && zone != "Etc/UTC") cron = "CRON_TZ=" + zone + " " + cron;
    job_.schedule.interval = cron;
    Record("schedule.interval", setup.contains("timezone") ? p + ".timezone"
                                : setup.contains("hour")   ? p + ".hour"
                                                           : p);

    // The window every task sees (DSTART, DEND): a day back from the scheduled time by default.
    job_.version = 3;
    job_.task.window.version = 3;
    job_.task.window.size = "1d";
    if (auto it = setup.find("window"); it != setup.end()) {
      if (!it->is_object()) {
        Error(p + ".window", "must be an object: size, shift_by, truncate_to, location");
      } else {
        const std::string wp = p + ".window";
        for (const auto& [key, value] : it->items()) {
          if (key != "size" && key != "shift_by" && key != "truncate_to" && key != "location") {
            Error(wp + "." + key,
                  "unknown window key (want size, shift_by, truncate_to, location)");
          }
        }
        Window& w = job_.task.window;
        if (it->contains("size")) w.size = Text(*it, "size", wp);
        w.shift_by = Text(*it, "shift_by", wp);
        w.truncate_to = Text(*it, "truncate_to", wp);
        w.location = Text(*it, "location", wp);
        for (const char* key : {"size", "shift_by", "truncate_to", "location"}) {
          Record(std::string("task.window.") + key, wp + "." + key);
        }
      }
    }
  }

  void Tasks(const json& tasks) {
    if (!tasks.is_array()) {
      Error("tasks", "must be a list of tasks, each {\"<plugin>\": {parameters}}");
      return;
    }
    if (tasks.empty()) Error("tasks", "a recipe needs at least one task");
    for (size_t i = 0; i < tasks.size(); ++i) {
      const std::string p = "tasks[" + std::to_string(i) + "]";
      const json& item = tasks[i];
      if (!item.is_object() || item.size() != 1) {
        Error(p, "a task is an object with one key, its plugin: {\"<plugin>\": {parameters}}");
        continue;
      }
      const std::string plugin = item.begin().key();
      const json& params = item.begin().value();
      const std::string pp = p + "." + plugin;
      Task step;
      step.name = plugin;
      Record("recipe[" + std::to_string(job_.recipe.size()) + "]", p);
      Record("recipe[" + std::to_string(job_.recipe.size()) + "].name", pp);
      if (!params.is_object()) {
        Error(pp, "a task's parameters are an object");
      } else {
        for (const auto& [key, raw] : params.items()) {
          if (key == "hour") {
            Error(pp + ".hour",
                  "a task's own hours are not supported: every task runs at setup.hour");
            continue;
          }
          const json value = Resolve(raw, pp + "." + key);
          step.config[key] = value.is_string() ? value.get<std::string>()
                             : value.is_null() ? std::string()
                                               : value.dump();
          Record("recipe[" + std::to_string(job_.recipe.size()) + "].config." + key,
                 pp + "." + key);
        }
      }
      job_.recipe.push_back(std::move(step));
    }
  }

 private:
  const std::string& path_;
  Diagnostics& diagnostics_;
  JobSpec& job_;
  std::map<std::string, std::pair<int, int>> places_;
};

}  // namespace

std::optional<JobSpec> LoadRecipeSpec(const std::string& path, const std::string& content,
                                      const std::string& default_name, Diagnostics& diagnostics) {
  constexpr int kDeepest = 32;
  if (const size_t at = TooDeep(content, kDeepest); at != std::string_view::npos) {
    const auto [line, column] = PlaceOf(content, at);
    diagnostics.Error(Location{path, line, column}, "",
                      "nested more than " + std::to_string(kDeepest) + " levels deep");
    return std::nullopt;
  }
  json root;
  try {
    root = json::parse(content);
  } catch (const json::exception& e) {
    // parse_error carries where; out_of_range (a number too big, e.g. 1E999) does not.
    const auto* parse = dynamic_cast<const json::parse_error*>(&e);
    const size_t byte = parse != nullptr && parse->byte > 0 ? parse->byte - 1 : 0;
    const auto [line, column] = PlaceOf(content, byte);
    std::string message = e.what();
    if (const size_t colon = message.rfind(": "); colon != std::string::npos) {
      message = message.substr(colon + 2);
    }
    diagnostics.Error(Location{path, line, column}, "", "not valid JSON: " + message);
    return std::nullopt;
  }
  if (!root.is_object()) {
    diagnostics.Error(Location{path, 1, 1}, "",
                      "a recipe is a JSON object with \"setup\" and \"tasks\"");
    return std::nullopt;
  }
  JobSpec job;
  job.file = path;
  job.name = default_name;
  job.locations[""] = Location{path, 0, 0};
  RecipeReader r(path, content, diagnostics, job);
  job.locations["name"] = r.At("setup");
  for (const auto& [key, value] : root.items()) {
    if (key != "setup" && key != "tasks" && key != "script" && key != "license") {
      r.Warning(key, "ignored: a recipe has setup, tasks and script");
    }
  }
  if (auto script = root.find("script"); script != root.end() && script->is_object()) {
    job.description = r.Text(*script, "description", "script");
    if (job.description.empty()) job.description = r.Text(*script, "title", "script");
  }
  try {
    if (auto setup = root.find("setup"); setup == root.end()) {
      r.Error("", "missing \"setup\" (timezone, day, hour, start_date, owner)");
    } else if (!setup->is_object()) {
      r.Error("setup", "must be an object");
    } else {
      r.Setup(*setup);
    }
    if (auto tasks = root.find("tasks"); tasks == root.end()) {
      r.Error("", "missing \"tasks\": the list of tasks to run in order");
    } else {
      r.Tasks(*tasks);
    }
  } catch (const json::exception& e) {  // a value of a shape the checks above did not foresee
    r.Error("", std::string("cannot read the recipe: ") + e.what());
    return std::nullopt;
  }
  job.TaskFromRecipe();
  return job;
}

}  // namespace optimus::spec
