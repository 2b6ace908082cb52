#include "replicator/config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/grpc_util.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "proto/model_util.h"

namespace slotkeeper::replicator {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::TextFormat;

// Collects parser errors with their (1-based) line numbers.
class ErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    errors_.push_back(absl::StrCat("line ", line + 1, ":", column + 1, ": ", message));
  }
  void AddWarning(int line, int column, const std::string& message) override {
    // Warnings are not errors, but say so: they are usually typos.
    errors_.push_back(absl::StrCat("line ", line + 1, ":", column + 1, ": warning: ", message));
  }
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  std::vector<std::string> errors_;
};

// Finds where fields were written so that semantic errors can name a line.
class Locator {
 public:
  Locator(absl::string_view source, const TextFormat::ParseInfoTree* tree)
      : source_(source), tree_(tree) {}

  // "config:12: " for element `index` of repeated `field` of the top-level
  // message, optionally for its sub-field `subfield`.
  std::string At(absl::string_view field, int index, absl::string_view subfield = "") const {
    const Descriptor* d = AgentConfig::descriptor();
    const FieldDescriptor* f = d->FindFieldByName(std::string(field));
    if (f == nullptr || tree_ == nullptr) return absl::StrCat(source_, ": ");
    int line = -1;
    if (!subfield.empty()) {
      const TextFormat::ParseInfoTree* nested =
          tree_->GetTreeForNested(f, f->is_repeated() ? index : -1);
      const FieldDescriptor* sf =
          nested == nullptr ? nullptr : f->message_type()->FindFieldByName(std::string(subfield));
      if (sf != nullptr) line = nested->GetLocation(sf, sf->is_repeated() ? 0 : -1).line;
    }
    if (line < 0) line = tree_->GetLocation(f, f->is_repeated() ? index : -1).line;
    if (line < 0) return absl::StrCat(source_, ": ");
    return absl::StrCat(source_, ":", line + 1, ": ");
  }

 private:
  std::string source_;
  const TextFormat::ParseInfoTree* tree_;
};

absl::Status Invalid(const std::string& where, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(where, what));
}

void FillDefaults(AgentConfig& config) {
  ProbeConfig& p = *config.mutable_probes();
  auto def = [](auto value, auto fallback) { return value > 0 ? value : fallback; };
  p.set_mount_reread_ms(def(p.mount_reread_ms(), int64_t{1000}));
  p.set_write_interval_ms(def(p.write_interval_ms(), int64_t{1000}));
  p.set_write_deadline_ms(def(p.write_deadline_ms(), int64_t{5000}));
  p.set_unit_interval_ms(def(p.unit_interval_ms(), int64_t{1000}));
  p.set_capacity_interval_ms(def(p.capacity_interval_ms(), int64_t{5000}));
  p.set_slot_usage_interval_ms(def(p.slot_usage_interval_ms(), int64_t{60000}));
  p.set_kernel_clear_after_ms(def(p.kernel_clear_after_ms(), int64_t{30000}));
  p.set_low_space_fraction(def(p.low_space_fraction(), 0.05));
  p.set_low_inodes_fraction(def(p.low_inodes_fraction(), 0.05));
  if (p.sysfs_root().empty()) p.set_sysfs_root("/sys");
  if (p.mountinfo_path().empty()) p.set_mountinfo_path("/proc/self/mountinfo");
  if (p.kmsg_path().empty()) p.set_kmsg_path("/dev/kmsg");
  HookConfig& h = *config.mutable_hooks();
  h.set_timeout_ms(def(h.timeout_ms(), int64_t{30000}));
  FailsafeConfig& f = *config.mutable_failsafe();
  f.set_coordinator_silence_ms(def(f.coordinator_silence_ms(), int64_t{3000}));
  f.set_margin_ms(def(f.margin_ms(), int64_t{1000}));
  DataPathConfig& d = *config.mutable_data_path();
  d.set_scrub_bytes_per_second(def(d.scrub_bytes_per_second(), uint64_t{8} << 20));
  d.set_scrub_pass_interval_ms(def(d.scrub_pass_interval_ms(), int64_t{86'400'000}));
  d.set_quarantine_keep_days(def(d.quarantine_keep_days(), 14));
  d.set_quarantine_max_share(def(d.quarantine_max_share(), 0.1));
  d.set_guard_max_removal_share(def(d.guard_max_removal_share(), 0.1));
  d.set_guard_min_removals(def(d.guard_min_removals(), 2u));
  d.set_guard_window_ms(def(d.guard_window_ms(), int64_t{86'400'000}));
  d.set_catch_up_interval_ms(def(d.catch_up_interval_ms(), int64_t{5000}));
  if (d.replication_feed().empty()) d.set_replication_feed("push");
  d.set_safety_net_interval_ms(def(d.safety_net_interval_ms(), int64_t{300'000}));
  TlsConfig& t = *config.mutable_tls();
  if (t.coordinator_identity().empty()) t.set_coordinator_identity("slotmgr");
  t.set_refresh_ms(def(t.refresh_ms(), int64_t{60000}));
}

// TLS: the three files together, absolute; a coordinator name that is a name.
absl::Status ValidateTls(const AgentConfig& c, const Locator& at) {
  const TlsConfig& t = c.tls();
  const int given = !t.ca_file().empty() + !t.cert_file().empty() + !t.key_file().empty();
  if (given != 0 && given != 3) {
    return Invalid(at.At("tls", -1), "tls: set ca_file, cert_file and key_file together");
  }
  for (const std::string* file : {&t.ca_file(), &t.cert_file(), &t.key_file()}) {
    if (!file->empty() && (*file)[0] != '/') {
      return Invalid(at.At("tls", -1),
                     absl::StrCat("tls: \"", *file, "\" must be an absolute path"));
    }
  }
  if (absl::Status s = model::ValidateName(model::NameKind::kHost, t.coordinator_identity());
      !s.ok()) {
    return Invalid(at.At("tls", -1), absl::StrCat("tls: coordinator_identity: ", s.message()));
  }
  if (t.refresh_ms() < 1000) {
    return Invalid(at.At("tls", -1), "tls: refresh_ms must be at least 1000");
  }
  return absl::OkStatus();
}

// The data path's safety settings: a quarantine that keeps a week at least,
// shares that are shares, an owner given as uid and gid together.
absl::Status ValidateDataPath(const AgentConfig& c, const Locator& at) {
  const DataPathConfig& d = c.data_path();
  if (d.has_mail_uid() != d.has_mail_gid()) {
    return Invalid(at.At("data_path", -1), "data_path: set mail_uid and mail_gid together");
  }
  if (d.quarantine_keep_days() < 7) {
    return Invalid(at.At("data_path", -1),
                   "data_path: quarantine_keep_days must be at least 7 (mail moved aside is "
                   "kept a week at least)");
  }
  if (d.catch_up_interval_ms() < 100) {
    return Invalid(at.At("data_path", -1), "data_path: catch_up_interval_ms must be at least 100");
  }
  if (d.replication_feed() != "push" && d.replication_feed() != "poll") {
    return Invalid(at.At("data_path", -1),
                   absl::StrCat("data_path: replication_feed must be \"push\" or \"poll\", not \"",
                                absl::CEscape(d.replication_feed()), "\""));
  }
  if (d.safety_net_interval_ms() < d.catch_up_interval_ms()) {
    return Invalid(at.At("data_path", -1),
                   "data_path: safety_net_interval_ms must be at least catch_up_interval_ms");
  }
  if (d.quarantine_max_share() > 1 || d.guard_max_removal_share() >= 1) {
    return Invalid(at.At("data_path", -1),
                   "data_path: quarantine_max_share must be at most 1 and "
                   "guard_max_removal_share below 1");
  }
  return absl::OkStatus();
}

// The host's own settings: name, addresses, data dir, probe thresholds.
absl::Status ValidateHostSettings(const AgentConfig& c, const Locator& at) {
  if (c.host().empty()) return Invalid(at.At("host", -1), "host is required");
  if (absl::Status s = model::ValidateName(model::NameKind::kHost, c.host()); !s.ok()) {
    return Invalid(at.At("host", -1), s.message());
  }
  if (!c.peer_advertise_address().empty()) {
    if (absl::Status s = ValidateHostPort(c.peer_advertise_address()); !s.ok()) {
      return Invalid(at.At("peer_advertise_address", -1), s.message());
    }
  }
  if (c.coordinator_address().empty()) {
    return Invalid(at.At("coordinator_address", -1), "coordinator_address is required");
  }
  if (absl::Status s = ValidateHostPort(c.coordinator_address()); !s.ok()) {
    return Invalid(at.At("coordinator_address", -1), s.message());
  }
  if (c.peer_listen_address().empty()) {
    return Invalid(at.At("peer_listen_address", -1), "peer_listen_address is required");
  }
  if (absl::Status s = ValidateHostPort(c.peer_listen_address(), /*allow_port_zero=*/true);
      !s.ok()) {
    return Invalid(at.At("peer_listen_address", -1), s.message());
  }
  if (c.data_dir().empty() || c.data_dir()[0] != '/') {
    return Invalid(at.At("data_dir", -1), "data_dir must be an absolute path");
  }
  if (c.probes().low_space_fraction() >= 1 || c.probes().low_inodes_fraction() >= 1) {
    return Invalid(at.At("probes", -1), "low_*_fraction must be below 1");
  }
  return absl::OkStatus();
}

// Units: valid unique names, devices named bare and owned by one unit.
absl::Status ValidateUnits(const AgentConfig& c, const Locator& at, std::set<std::string>& units) {
  std::set<std::string> devices;
  for (int i = 0; i < c.units_size(); ++i) {
    const UnitConfig& u = c.units(i);
    if (u.name().empty()) return Invalid(at.At("units", i), "unit without a name");
    if (absl::Status s = model::ValidateName(model::NameKind::kUnit, u.name()); !s.ok()) {
      return Invalid(at.At("units", i, "name"), s.message());
    }
    if (!units.insert(u.name()).second) {
      return Invalid(at.At("units", i, "name"), absl::StrCat("duplicate unit \"", u.name(), "\""));
    }
    for (const std::string& dev : u.devices()) {
      if (dev.empty() || absl::StrContains(dev, "/")) {
        return Invalid(at.At("units", i, "devices"),
                       absl::StrCat("device \"", dev, "\" must be a bare name such as \"sdb\""));
      }
      if (!devices.insert(dev).second) {
        return Invalid(at.At("units", i, "devices"),
                       absl::StrCat("device \"", dev, "\" belongs to two units"));
      }
    }
  }
  return absl::OkStatus();
}

// Filesystems: absolute unique mount points on known units.
absl::Status ValidateFilesystems(const AgentConfig& c, const Locator& at,
                                 const std::set<std::string>& units,
                                 std::map<std::string, std::string>& filesystems) {
  for (int i = 0; i < c.filesystems_size(); ++i) {
    const FilesystemConfig& f = c.filesystems(i);
    if (f.mount_point().empty() || f.mount_point()[0] != '/') {
      return Invalid(at.At("filesystems", i, "mount_point"),
                     absl::StrCat("mount_point \"", f.mount_point(), "\" must be absolute"));
    }
    if (!units.count(f.unit())) {
      return Invalid(
          at.At("filesystems", i, "unit"),
          absl::StrCat("filesystem ", f.mount_point(), " names unknown unit \"", f.unit(), "\""));
    }
    if (!filesystems.emplace(f.mount_point(), f.unit()).second) {
      return Invalid(at.At("filesystems", i, "mount_point"),
                     absl::StrCat("duplicate filesystem \"", f.mount_point(), "\""));
    }
  }
  return absl::OkStatus();
}

// Slots: valid unique names, absolute paths inside their (known) filesystem,
// no two slots nested, service addresses well formed.
absl::Status ValidateSlots(const AgentConfig& c, const Locator& at,
                           const std::map<std::string, std::string>& filesystems) {
  std::set<std::string> slot_names;
  std::map<std::string, std::string> slot_paths;  // path -> slot name
  for (int i = 0; i < c.slots_size(); ++i) {
    const SlotConfig& s = c.slots(i);
    if (s.name().empty()) return Invalid(at.At("slots", i), "slot without a name");
    if (absl::Status st = model::ValidateName(model::NameKind::kSlot, s.name()); !st.ok()) {
      return Invalid(at.At("slots", i, "name"), st.message());
    }
    if (!slot_names.insert(s.name()).second) {
      return Invalid(at.At("slots", i, "name"), absl::StrCat("duplicate slot \"", s.name(), "\""));
    }
    if (!filesystems.count(s.filesystem())) {
      return Invalid(
          at.At("slots", i, "filesystem"),
          absl::StrCat("slot ", s.name(), " names unknown filesystem \"", s.filesystem(), "\""));
    }
    if (s.path().empty() || s.path()[0] != '/') {
      return Invalid(at.At("slots", i, "path"),
                     absl::StrCat("slot ", s.name(), ": path \"", s.path(), "\" must be absolute"));
    }
    if (s.path() == s.filesystem() || !PathIsInside(s.path(), s.filesystem())) {
      return Invalid(at.At("slots", i, "path"),
                     absl::StrCat("slot ", s.name(), ": path ", s.path(),
                                  " is not inside its filesystem ", s.filesystem()));
    }
    for (const auto& [path, other] : slot_paths) {
      if (PathIsInside(s.path(), path) || PathIsInside(path, s.path())) {
        return Invalid(at.At("slots", i, "path"),
                       absl::StrCat("slot ", s.name(), " and slot ", other, " share the path ",
                                    path == s.path() ? path : s.path()));
      }
    }
    slot_paths.emplace(s.path(), s.name());
    if (!s.service_address().empty()) {
      if (absl::Status st = ValidateHostPort(s.service_address()); !st.ok()) {
        return Invalid(at.At("slots", i, "service_address"),
                       absl::StrCat("slot ", s.name(), ": ", st.message()));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const AgentConfig& c, const Locator& at) {
  if (absl::Status s = ValidateHostSettings(c, at); !s.ok()) return s;
  if (absl::Status s = ValidateDataPath(c, at); !s.ok()) return s;
  if (absl::Status s = ValidateTls(c, at); !s.ok()) return s;
  std::set<std::string> units;
  if (absl::Status s = ValidateUnits(c, at, units); !s.ok()) return s;
  std::map<std::string, std::string> filesystems;  // mount point -> unit
  if (absl::Status s = ValidateFilesystems(c, at, units, filesystems); !s.ok()) return s;
  return ValidateSlots(c, at, filesystems);
}

}  // namespace

bool PathIsInside(absl::string_view path, absl::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (dir == "/") return absl::StartsWith(path, "/");
  if (!absl::StartsWith(path, dir)) return false;
  return path.size() == dir.size() || path[dir.size()] == '/';
}

absl::StatusOr<AgentConfig> ParseConfig(absl::string_view text, absl::string_view source_name) {
  AgentConfig config;
  ErrorCollector errors;
  TextFormat::ParseInfoTree tree;
  TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.WriteLocationsTo(&tree);
  parser.AllowUnknownField(false);
  if (!parser.ParseFromString(std::string(text), &config) || !errors.errors().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ": ", absl::StrJoin(errors.errors(), "; ")));
  }
  FillDefaults(config);
  if (absl::Status s = Validate(config, Locator(source_name, &tree)); !s.ok()) return s;
  return config;
}

absl::StatusOr<AgentConfig> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    std::string what = absl::StrCat("cannot read config ", path, ": ", std::strerror(err));
    if (err == EACCES) return absl::PermissionDeniedError(what);
    return absl::NotFoundError(what);
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading config ", path));
  return ParseConfig(buffer.str(), path);
}

}  // namespace slotkeeper::replicator
