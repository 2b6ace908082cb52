#include "base/metrics_text.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace slotkeeper::testing {
namespace {

bool Matches(const MetricSample& s, const std::string& name,
             const std::map<std::string, std::string>& labels) {
  if (s.name != name) return false;
  for (const auto& [k, v] : labels) {
    auto it = s.labels.find(k);
    if (it == s.labels.end() || it->second != v) return false;
  }
  return true;
}

// `{a="x",b="y"}` (escapes \\ \" \n) into `out`; false if malformed.
bool ParseLabels(absl::string_view text, std::map<std::string, std::string>& out) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t eq = text.find('=', i);
    if (eq == absl::string_view::npos || eq + 1 >= text.size() || text[eq + 1] != '"') return false;
    std::string name(text.substr(i, eq - i));
    std::string value;
    size_t j = eq + 2;
    for (; j < text.size() && text[j] != '"'; ++j) {
      if (text[j] == '\\' && j + 1 < text.size()) {
        ++j;
        value.push_back(text[j] == 'n' ? '\n' : text[j]);
      } else {
        value.push_back(text[j]);
      }
    }
    if (j >= text.size()) return false;
    out[name] = value;
    i = j + 1;
    if (i < text.size() && text[i] == ',') ++i;
  }
  return true;
}

}  // namespace

double Exposition::Sum(const std::string& name,
                       const std::map<std::string, std::string>& labels) const {
  double sum = 0;
  for (const MetricSample& s : samples) {
    if (Matches(s, name, labels)) sum += s.value;
  }
  return sum;
}

bool Exposition::Has(const std::string& name,
                     const std::map<std::string, std::string>& labels) const {
  for (const MetricSample& s : samples) {
    if (Matches(s, name, labels)) return true;
  }
  return false;
}

absl::StatusOr<Exposition> ParseExposition(absl::string_view text) {
  Exposition out;
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    ++n;
    auto bad = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("line ", n, ": ", what, ": ", line));
    };
    if (absl::ConsumePrefix(&line, "# TYPE ")) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      if (parts.size() != 2) return bad("malformed TYPE");
      out.types[parts[0]] = parts[1];
      continue;
    }
    if (absl::StartsWith(line, "#")) continue;
    MetricSample s;
    const size_t brace = line.find('{');
    const size_t space = line.rfind(' ');
    if (space == absl::string_view::npos) return bad("no value");
    if (brace != absl::string_view::npos && brace < space) {
      const size_t close = line.rfind('}');
      if (close == absl::string_view::npos || close < brace) return bad("unclosed labels");
      s.name = std::string(line.substr(0, brace));
      if (!ParseLabels(line.substr(brace + 1, close - brace - 1), s.labels)) {
        return bad("malformed labels");
      }
    } else {
      s.name = std::string(line.substr(0, space));
    }
    absl::string_view value = line.substr(space + 1);
    if (value == "+Inf") {
      s.value = 1e308;
    } else if (!absl::SimpleAtod(value, &s.value)) {
      return bad("malformed value");
    }
    out.samples.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::set<std::string>> DocumentedMetrics(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::set<std::string> names;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view l(line);
    if (!absl::ConsumePrefix(&l, "| `")) continue;
    const size_t end = l.find('`');
    if (end != absl::string_view::npos) names.insert(std::string(l.substr(0, end)));
  }
  return names;
}

}  // namespace slotkeeper::testing
