#include "tests/e2e/lag_measure.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tools/mailgen/delivery_plan.h"

namespace slotkeeper::testing {

const std::map<std::string, std::string>& BuiltInLagModes() {
  static const auto* modes = new std::map<std::string, std::string>{
      {"poll", "data_path { replication_feed: \"poll\" catch_up_interval_ms: 5000 }"},
      {"push", "data_path { replication_feed: \"push\" }"},
      {"default", ""},
  };
  return *modes;
}

absl::StatusOr<std::vector<LagMode>> ParseLagModes(absl::string_view names,
                                                   absl::string_view definitions) {
  std::map<std::string, std::string> known = BuiltInLagModes();
  for (absl::string_view def : absl::StrSplit(definitions, ';', absl::SkipWhitespace())) {
    const size_t eq = def.find('=');
    const std::string name(absl::StripAsciiWhitespace(def.substr(0, eq)));
    if (eq == absl::string_view::npos || name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--mode_config: \"", def, "\" is not NAME=AGENT_CONFIG_TEXT"));
    }
    // The name becomes part of the run's directory and of the slots' paths.
    const bool plain = std::all_of(name.begin(), name.end(), [](char c) {
      return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
    if (!plain) {
      return absl::InvalidArgumentError(absl::StrCat("--mode_config: mode name \"", name,
                                                     "\" may hold only letters, digits, - and _"));
    }
    known[name] = std::string(absl::StripAsciiWhitespace(def.substr(eq + 1)));
  }
  std::vector<LagMode> modes;
  for (absl::string_view raw : absl::StrSplit(names, ',')) {
    const std::string name(absl::StripAsciiWhitespace(raw));
    auto it = known.find(name);
    if (it == known.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--modes: unknown mode \"", name, "\" (built in: poll, push, default; ",
                       "define others with --mode_config NAME=CONFIG)"));
    }
    for (const LagMode& m : modes) {
      if (m.name == name) return absl::InvalidArgumentError("--modes: \"" + name + "\" twice");
    }
    modes.push_back({name, it->second});
  }
  return modes;
}

absl::StatusOr<std::vector<double>> ParseRates(absl::string_view rates) {
  std::vector<double> out;
  for (absl::string_view raw : absl::StrSplit(rates, ',')) {
    double r = 0;
    if (!absl::SimpleAtod(absl::StripAsciiWhitespace(raw), &r) || !(r > 0) || !std::isfinite(r) ||
        r > 100000) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--rates: \"", raw, "\" is not a rate in messages per second (0 < rate <= 100000)"));
    }
    out.push_back(r);
  }
  return out;
}

absl::StatusOr<std::vector<Delivery>> ParseDeliveryLog(absl::string_view text) {
  std::vector<Delivery> out;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    if (line.empty()) continue;
    auto record = mailgen::ParseDeliveryLine(line);
    if (!record.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("delivery log line ", number, ": ", record.status().message()));
    }
    // users/<user>/new/<name>, checked by ParseDeliveryLine.
    std::vector<absl::string_view> parts = absl::StrSplit(record->path, '/');
    out.push_back({record->unix_ns, record->slot, std::string(parts[1]),
                   std::string(mailgen::MaildirKey(parts[3]))});
  }
  return out;
}

std::string SightingKey(absl::string_view slot, absl::string_view user, absl::string_view key) {
  return absl::StrCat(slot, "\n", user, "\n", key);
}

absl::Status ComputeLags(const std::vector<Delivery>& deliveries,
                         const std::map<std::string, std::vector<std::string>>& replicas,
                         const absl::flat_hash_map<std::string, int64_t>& first_seen,
                         const absl::flat_hash_set<std::string>& scanned, bench::LagRun* run) {
  std::vector<double> lags_ms;
  uint64_t expected = 0, scan_only = 0, never = 0;
  for (const Delivery& d : deliveries) {
    auto it = replicas.find(d.master_slot);
    if (it == replicas.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("a delivery to ", d.master_slot, ", which is no store's master slot"));
    }
    for (const std::string& replica : it->second) {
      ++expected;
      const std::string key = SightingKey(replica, d.user, d.key);
      if (auto seen = first_seen.find(key); seen != first_seen.end()) {
        lags_ms.push_back(static_cast<double>(seen->second - d.arrived_ns) / 1e6);
      } else if (scanned.contains(key)) {
        ++scan_only;
      } else {
        ++never;
        if (run->never_seen_examples_size() < 10) {
          run->add_never_seen_examples(absl::StrCat(replica, " ", d.user, " ", d.key));
        }
      }
    }
  }
  std::sort(lags_ms.begin(), lags_ms.end());
  run->set_delivered(deliveries.size());
  run->set_expected(expected);
  run->set_observed(lags_ms.size());
  run->set_lag_p50_ms(mailgen::NearestRank(lags_ms, 0.50));
  run->set_lag_p99_ms(mailgen::NearestRank(lags_ms, 0.99));
  run->set_lag_max_ms(lags_ms.empty() ? 0 : lags_ms.back());
  run->set_seen_only_by_scan(scan_only);
  run->set_never_seen(never);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> CpuTicksFromProcStat(absl::string_view stat) {
  // "pid (comm) state ppid ...": fields after the last ')' start with state
  // (field 3); utime and stime are fields 14 and 15.
  const size_t close = stat.rfind(')');
  if (close == absl::string_view::npos) {
    return absl::InvalidArgumentError("/proc/PID/stat: no \"(comm)\"");
  }
  std::vector<absl::string_view> fields =
      absl::StrSplit(stat.substr(close + 1), ' ', absl::SkipEmpty());
  uint64_t utime = 0, stime = 0;
  if (fields.size() < 13 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return absl::InvalidArgumentError("/proc/PID/stat: no utime and stime (fields 14 and 15)");
  }
  return utime + stime;
}

double MailgenLatenessP99Ms(absl::string_view mailgen_output) {
  const size_t line = mailgen_output.find("lateness against the schedule:");
  if (line == absl::string_view::npos) return 0;
  const size_t at = mailgen_output.find("p99 ", line);
  if (at == absl::string_view::npos) return 0;
  absl::string_view rest = mailgen_output.substr(at + 4);
  double ms = 0;
  return absl::SimpleAtod(rest.substr(0, rest.find(' ')), &ms) ? ms : 0;
}

std::string FormatLagTable(const bench::LagReport& report) {
  std::string out =
      "| mode | rate/s | delivered | lag p50 ms | lag p99 ms | lag max ms | never seen | "
      "scan only | CPU s slotmgrd | CPU s agents | CPU ms/msg | mailgen late p99 ms |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const bench::LagRun& r : report.runs()) {
    std::vector<std::string> agents;
    for (const bench::ProcessCpu& a : r.agents()) {
      agents.push_back(absl::StrFormat("%.1f", a.cpu_seconds()));
    }
    absl::StrAppendFormat(
        &out, "| %s | %g | %d | %.0f | %.0f | %.0f | %d | %d | %.1f | %s | %.2f | %.1f |\n",
        r.mode(), r.rate(), r.delivered(), r.lag_p50_ms(), r.lag_p99_ms(), r.lag_max_ms(),
        r.never_seen(), r.seen_only_by_scan(), r.coordinator().cpu_seconds(),
        absl::StrJoin(agents, " / "), r.cpu_ms_per_message(), r.mailgen_lateness_p99_ms());
  }
  for (const bench::LagRun& r : report.runs()) {
    if (r.never_seen() > 0) {
      absl::StrAppendFormat(&out,
                            "\n!!! %s at %g/s: %d of %d (message, replica) pairs NEVER reached "
                            "the replica, e.g. %s\n",
                            r.mode(), r.rate(), r.never_seen(), r.expected(),
                            r.never_seen_examples_size() > 0 ? r.never_seen_examples(0) : "");
    }
    if (r.seen_only_by_scan() > 0 || r.inotify_overflow()) {
      absl::StrAppendFormat(&out,
                            "\n!!! %s at %g/s: %d pairs found only by the final scan%s (their "
                            "lag is unknown and not in the figures)\n",
                            r.mode(), r.rate(), r.seen_only_by_scan(),
                            r.inotify_overflow() ? ", inotify overflowed" : "");
    }
  }
  return out;
}

}  // namespace slotkeeper::testing
