// The state machine, fencing and claim rules of executions (see execution_rules.h).
#include "optimus/dispatcher/execution_rules.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace optimus::dispatcher {

std::string_view StateName(State state) {
  switch (state) {
    case State::kQueued:
      return "queued";
    case State::kLeased:
      return "leased";
    case State::kRunning:
      return "running";
    case State::kSucceeded:
      return "succeeded";
    case State::kFailed:
      return "failed";
    case State::kCancelled:
      return "cancelled";
    case State::kTimedOut:
      return "timed_out";
  }
  return "unknown";
}

std::optional<State> ParseState(std::string_view name) {
  for (State s : {State::kQueued, State::kLeased, State::kRunning, State::kSucceeded,
                  State::kFailed, State::kCancelled, State::kTimedOut}) {
    if (StateName(s) == name) return s;
  }
  return std::nullopt;
}

bool IsTerminal(State state) {
  return state == State::kSucceeded || state == State::kFailed || state == State::kCancelled ||
         state == State::kTimedOut;
}

bool CanTransition(State from, State to) {
  switch (from) {
    case State::kQueued:
      return to == State::kLeased || to == State::kCancelled;
    case State::kLeased:
    case State::kRunning:
      // Running again (a repeated start report) is not a transition; queued is an expiry.
      return (from == State::kLeased && to == State::kRunning) || to == State::kQueued ||
             IsTerminal(to);
    default:
      return false;  // terminal states never change
  }
}

absl::Status CheckLease(const std::string& execution_id, const LeaseView& current,
                        const std::string& executor, int64_t epoch) {
  if (IsTerminal(current.state)) {
    return absl::FailedPreconditionError(absl::StrCat("lease no longer held: execution ",
                                                      execution_id, " has ended (",
                                                      std::string(StateName(current.state)), ")"));
  }
  if (current.state == State::kQueued) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease no longer held: execution ", execution_id,
                     " was queued again after its lease expired (attempt ", current.attempt, ")"));
  }
  if (current.owner != executor || current.epoch != epoch) {
    return absl::FailedPreconditionError(
        absl::StrCat("lease no longer held: execution ", execution_id, " is at lease epoch ",
                     current.epoch, " (attempt ", current.attempt, ") on executor ", current.owner,
                     "; this report carries epoch ", epoch, " from executor ", executor));
  }
  return absl::OkStatus();
}

State AfterLeaseExpiry(int32_t attempt, int32_t max_attempts, bool cancel_requested) {
  if (cancel_requested) return State::kCancelled;
  return attempt < max_attempts ? State::kQueued : State::kFailed;
}

bool ClaimsBefore(const QueueEntry& a, const QueueEntry& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  return a.seq < b.seq;
}

std::vector<std::string> ServedPools(const std::map<std::string, std::string>& labels) {
  std::set<std::string> pools = {""};
  if (auto it = labels.find(kPoolLabel); it != labels.end()) {
    for (absl::string_view p : absl::StrSplit(it->second, ',', absl::SkipWhitespace())) {
      pools.insert(std::string(absl::StripAsciiWhitespace(p)));
    }
  }
  return {pools.begin(), pools.end()};
}

bool PoolMatches(const std::string& pool, const std::map<std::string, std::string>& labels) {
  const auto served = ServedPools(labels);
  return std::find(served.begin(), served.end(), pool) != served.end();
}

std::string_view EventType(State to, bool requeued) {
  switch (to) {
    case State::kQueued:
      return requeued ? "task_retry" : "execution_queued";
    case State::kLeased:
      return "execution_leased";
    case State::kRunning:
      return "task_start";
    case State::kSucceeded:
      return "job_success";
    case State::kFailed:
      return "failure";
    case State::kCancelled:
      return "execution_cancelled";
    case State::kTimedOut:
      return "execution_timed_out";
  }
  return "";
}

std::string_view RunState(State to) {
  switch (to) {
    case State::kQueued:
      return "queued";
    case State::kLeased:
      return "accepted";
    case State::kRunning:
      return "running";
    case State::kSucceeded:
      return "success";
    case State::kFailed:
    case State::kTimedOut:
      return "failed";
    case State::kCancelled:
      return "canceled";  // Optimus's spelling of the run state
  }
  return "";
}

absl::StatusOr<std::map<std::string, std::string>> CheckArguments(
    const std::string& task, const std::vector<ArgumentSpec>& specs,
    const std::map<std::string, std::string>& given) {
  std::map<std::string, std::string> by_upper;
  for (const auto& [name, value] : given) by_upper[absl::AsciiStrToUpper(name)] = value;
  std::map<std::string, std::string> out;
  std::vector<std::string> missing, known;
  for (const ArgumentSpec& spec : specs) {
    const std::string upper = absl::AsciiStrToUpper(spec.name);
    known.push_back(spec.name);
    if (auto it = by_upper.find(upper); it != by_upper.end()) {
      out[upper] = it->second;
      by_upper.erase(it);
    } else if (spec.required) {
      missing.push_back(spec.name);
    } else {
      out[upper] = spec.default_value;
    }
  }
  if (missing.empty() && by_upper.empty()) return out;
  std::vector<std::string> problems;
  if (!missing.empty()) {
    problems.push_back("missing required argument" + std::string(missing.size() > 1 ? "s " : " ") +
                       absl::StrJoin(missing, ", "));
  }
  if (!by_upper.empty()) {
    std::vector<std::string> unknown;
    for (const auto& [name, value] : given) {
      if (by_upper.count(absl::AsciiStrToUpper(name)) > 0) unknown.push_back(name);
    }
    problems.push_back("unknown argument" + std::string(unknown.size() > 1 ? "s " : " ") +
                       absl::StrJoin(unknown, ", "));
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "task ", task, ": ", absl::StrJoin(problems, "; "),
      " (it takes: ", known.empty() ? "no arguments" : absl::StrJoin(known, ", "), ")"));
}

absl::Status CheckName(std::string_view what, std::string_view name) {
  const auto ok_char = [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  };
  if (name.empty() || name.size() > 63 ||
      !absl::ascii_isalnum(static_cast<unsigned char>(name[0])) ||
      !std::all_of(name.begin(), name.end(), ok_char)) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(what), " \"", absl::CHexEscape(absl::string_view(name.data(), name.size())),
        "\" is not a name: use 1 to 63 letters, digits, '_', '-' or '.', starting "
        "with a letter or digit"));
  }
  return absl::OkStatus();
}

}  // namespace optimus::dispatcher
