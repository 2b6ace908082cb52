#include "replicator/probe.h"

#include "proto/model_util.h"

namespace slotkeeper::replicator {

Condition MakeCondition(ConditionType type, SubjectKind kind, absl::string_view subject,
                        absl::string_view reason) {
  Condition c;
  c.set_type(type);
  c.set_subject_kind(kind);
  c.set_subject(std::string(subject));
  c.set_reason(std::string(reason));
  c.set_hard(model::IsHardConditionType(type));
  return c;
}

bool ConditionTracker::Update(const std::vector<Condition>& current, int64_t now_ms) {
  std::map<Key, Condition> next;
  for (const Condition& c : current) {
    Key key{c.type(), c.subject_kind(), c.subject()};
    if (next.count(key)) continue;  // two probes agree: keep the first reason
    Condition merged = c;
    auto it = conditions_.find(key);
    if (it != conditions_.end()) {
      merged.set_since_ms(it->second.since_ms());
    } else if (merged.since_ms() == 0) {
      merged.set_since_ms(now_ms);
    }
    next.emplace(std::move(key), std::move(merged));
  }
  bool changed = next.size() != conditions_.size();
  if (!changed) {
    for (auto a = next.begin(), b = conditions_.begin(); a != next.end(); ++a, ++b) {
      if (a->first != b->first) {
        changed = true;
        break;
      }
    }
  }
  conditions_ = std::move(next);
  return changed;
}

std::vector<Condition> ConditionTracker::Current() const {
  std::vector<Condition> out;
  out.reserve(conditions_.size());
  for (const auto& [key, c] : conditions_) out.push_back(c);
  return out;
}

}  // namespace slotkeeper::replicator
