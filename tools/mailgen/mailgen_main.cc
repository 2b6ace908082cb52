// mailgen: writes realistic synthetic Maildir users into a slot,
// deterministically from a seed, mutates an existing slot the way a day of
// mail does (deliveries, flag changes, new -> cur, folder moves, expunges),
// or delivers a steady stream of new mail into existing slots (deliver.h).
//
//   mailgen --slot DIR --users 120 --messages 24000 --seed 1 [--store NAME]
//   mailgen --slot DIR --mutate --seed 2 --flag_pct 10 --new_pct 1
//           [--move_pct 0] [--folder_move_pct 0] [--delete_pct 0]
//   mailgen --deliver --slot DIR [--slot DIR2 | --slot DIR1,DIR2] --rate 50
//           --duration 5m --seed 3 [--flag_rate 5] --log FILE
//
// Layout: DIR/users/<user>/{cur,new,tmp} is INBOX; other folders are
// Maildir++ ".Sent", ".Archive", ".Drafts", ".Trash", ".Lists.dev" with their
// own cur/new/tmp. Message sizes are skewed like real mail: most a few KB,
// a tail of attachments up to a few MB. File mtimes are the received times.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/command_line.h"
#include "proto/model_util.h"
#include "tools/mailgen/deliver.h"
#include "tools/mailgen/delivery_plan.h"
#include "tools/mailgen/message_model.h"

ABSL_FLAG(std::string, slot, "",
          "slot directory (users/ is created in it); --deliver takes several (repeated or a "
          "comma list)");
ABSL_FLAG(int, users, 120, "number of users");
ABSL_FLAG(std::string, user_prefix, "user",
          "users are named PREFIX0000, PREFIX0001, ... (several stores of one cluster need "
          "different prefixes: a user name belongs to one store)");
ABSL_FLAG(int, messages, 24000, "total number of messages");
ABSL_FLAG(uint64_t, seed, 1, "random seed; same seed, same slot");
ABSL_FLAG(std::string, store, "", "write DIR/.slotkeeper-store with this name");
ABSL_FLAG(bool, mutate, false, "mutate an existing slot instead");
ABSL_FLAG(double, flag_pct, 10, "mutate: % of cur/ messages whose flags change");
ABSL_FLAG(double, new_pct, 1, "mutate: new deliveries, % of all messages");
ABSL_FLAG(double, move_pct, 0, "mutate: % of new/ messages moved to cur/");
ABSL_FLAG(double, folder_move_pct, 0, "mutate: % of INBOX cur/ messages moved to .Archive");
ABSL_FLAG(double, delete_pct, 0, "mutate: % of messages expunged");
ABSL_FLAG(bool, deliver, false,
          "deliver new mail into existing users of the slots at --rate for --duration");
ABSL_FLAG(double, rate, 0, "deliver: messages per second, all slots together");
ABSL_FLAG(absl::Duration, duration, absl::ZeroDuration(), "deliver: how long, e.g. 5m");
ABSL_FLAG(double, flag_rate, 0,
          "deliver: per second, a message of this run moved from new/ to cur/ with :2,S");
ABSL_FLAG(std::string, log, "",
          "deliver: one line per message, \"<unix ns of the rename into new/> <slot> <path>\"");

namespace {

using slotkeeper::mailgen::Flags;
using slotkeeper::mailgen::Message;
using slotkeeper::mailgen::MessageSize;
using slotkeeper::mailgen::Pools;
using slotkeeper::mailgen::Rng;

struct Folder {
  const char* dir;  // "" for INBOX
  double weight;
};
const Folder kFolders[] = {{"", 0.58},           {".Archive", 0.20}, {".Sent", 0.12},
                           {".Lists.dev", 0.05}, {".Trash", 0.03},   {".Drafts", 0.02}};

int Fail(const std::string& m) {
  std::fprintf(stderr, "mailgen: %s\n", m.c_str());
  return 1;
}

bool MkdirP(const std::string& path) {
  std::string acc;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || (path[i] == '/' && i > 0)) {
      acc = path.substr(0, i);
      if (mkdir(acc.c_str(), 0700) != 0 && errno != EEXIST) return false;
    }
  }
  return true;
}

bool WriteWhole(const std::string& path, const std::string& data, int64_t mtime_s) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) {
      close(fd);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  close(fd);
  struct timespec t[2] = {{mtime_s, 0}, {mtime_s, 0}};
  return utimensat(AT_FDCWD, path.c_str(), t, 0) == 0;
}

int Generate(const std::string& slot, int users, int messages, uint64_t seed) {
  Rng rng(seed);
  Pools pools(&rng);
  // Skewed mailbox sizes: user i gets a share proportional to 1/(i+1)^0.8.
  std::vector<double> weights(users);
  double total = 0;
  for (int i = 0; i < users; ++i) total += weights[i] = 1.0 / std::pow(i + 1, 0.8);
  std::vector<int> counts(users);
  int assigned = 0;
  for (int i = 0; i < users; ++i) {
    counts[i] = static_cast<int>(messages * weights[i] / total);
    assigned += counts[i];
  }
  for (int i = 0; assigned < messages; i = (i + 1) % users, ++assigned) counts[i]++;
  uint64_t serial = 0;
  uint64_t bytes = 0;
  const int64_t base_time = 1764000000;  // late 2025
  for (int u = 0; u < users; ++u) {
    const std::string user = absl::StrFormat("%s%04d", absl::GetFlag(FLAGS_user_prefix), u);
    const std::string home = absl::StrCat(slot, "/users/", user);
    for (const Folder& f : kFolders) {
      for (const char* sub : {"cur", "new", "tmp"}) {
        std::string d = absl::StrCat(home, f.dir[0] ? "/" : "", f.dir, "/", sub);
        if (!MkdirP(d)) return Fail(absl::StrCat("mkdir ", d, ": ", strerror(errno)));
      }
    }
    for (int i = 0; i < counts[u]; ++i, ++serial) {
      double pick = rng.Uniform();
      const Folder* folder = &kFolders[0];
      for (const Folder& f : kFolders) {
        if (pick < f.weight) {
          folder = &f;
          break;
        }
        pick -= f.weight;
      }
      const int64_t when =
          base_time + static_cast<int64_t>(serial) * 37 + static_cast<int64_t>(rng.Below(30));
      const size_t size = MessageSize(&rng);
      std::string msg = Message(&rng, pools, user, when, serial, size);
      const bool is_new = folder->dir[0] == '\0' && rng.Uniform() < 0.08;
      std::string unique = absl::StrFormat("%d.M%dP%dQ%d.mail1,S=%d", when, rng.Below(1000000),
                                           1000 + u, serial, msg.size());
      std::string path = absl::StrCat(home, folder->dir[0] ? "/" : "", folder->dir,
                                      is_new ? absl::StrCat("/new/", unique)
                                             : absl::StrCat("/cur/", unique, ":2,", Flags(&rng)));
      if (!WriteWhole(path, msg, when)) {
        return Fail(absl::StrCat("write ", path, ": ", strerror(errno)));
      }
      bytes += msg.size();
    }
    std::string index = absl::StrFormat("dovecot index of %s, %d messages\n", user, counts[u]);
    WriteWhole(absl::StrCat(home, "/dovecot.index"), index, base_time);
  }
  std::printf("mailgen: %d users, %d messages, %.1f MB in %s\n", users, messages, bytes / 1e6,
              slot.c_str());
  return 0;
}

// Every message file, sorted (deterministic mutations).
void ListMessages(const std::string& dir, const std::string& rel, std::vector<std::string>* out) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d)) {
    if (e->d_name[0] == '.' &&
        (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
      continue;
    names.push_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    std::string full = dir + "/" + n;
    std::string r = rel.empty() ? n : rel + "/" + n;
    struct stat st;
    if (lstat(full.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (n != "tmp") ListMessages(full, r, out);
    } else if (absl::StrContains(r, "/cur/") || absl::StrContains(r, "/new/")) {
      out->push_back(r);
    }
  }
}

int Mutate(const std::string& slot, uint64_t seed) {
  Rng rng(seed * 7919 + 13);
  Pools pools(&rng);
  const std::string users_dir = slot + "/users";
  std::vector<std::string> msgs;
  ListMessages(users_dir, "", &msgs);
  if (msgs.empty()) return Fail("no messages under " + users_dir);
  std::vector<std::string> users;
  for (const std::string& m : msgs) {
    std::string u = m.substr(0, m.find('/'));
    if (users.empty() || users.back() != u) users.push_back(u);
  }
  int flagged = 0, moved = 0, folder_moved = 0, deleted = 0, delivered = 0;
  auto chance = [&](double pct) { return rng.Uniform() * 100 < pct; };
  const double flag_pct = absl::GetFlag(FLAGS_flag_pct);
  const double move_pct = absl::GetFlag(FLAGS_move_pct);
  const double folder_pct = absl::GetFlag(FLAGS_folder_move_pct);
  const double delete_pct = absl::GetFlag(FLAGS_delete_pct);
  for (const std::string& m : msgs) {
    const std::string from = users_dir + "/" + m;
    const size_t slash = m.find('/');
    const std::string user = m.substr(0, slash);
    if (chance(delete_pct)) {
      if (unlink(from.c_str()) == 0) ++deleted;
      continue;
    }
    const bool in_new = absl::StrContains(m, "/new/");
    if (in_new && chance(move_pct)) {
      std::string to = m;
      to.replace(to.rfind("/new/"), 5, "/cur/");
      to += ":2,S";
      if (rename(from.c_str(), (users_dir + "/" + to).c_str()) == 0) ++moved;
      continue;
    }
    if (!in_new && m.compare(slash, 5, "/cur/") == 0 && chance(folder_pct)) {
      std::string to = absl::StrCat(user, "/.Archive/cur/", m.substr(slash + 5));
      if (rename(from.c_str(), (users_dir + "/" + to).c_str()) == 0) ++folder_moved;
      continue;
    }
    if (!in_new && chance(flag_pct)) {
      size_t colon = m.rfind(":2,");
      if (colon == std::string::npos) continue;
      std::string flags = m.substr(colon + 3);
      if (flags.find('F') == std::string::npos) {
        flags += "F";
        std::sort(flags.begin(), flags.end());
      } else {
        flags.erase(flags.find('F'), 1);
      }
      std::string to = m.substr(0, colon + 3) + flags;
      if (rename(from.c_str(), (users_dir + "/" + to).c_str()) == 0) ++flagged;
    }
  }
  const int deliveries =
      static_cast<int>(std::lround(msgs.size() * absl::GetFlag(FLAGS_new_pct) / 100.0));
  const int64_t when = 1790000000 + static_cast<int64_t>(seed % 100000) * 60;
  for (int i = 0; i < deliveries; ++i) {
    const std::string& user = users[rng.Below(users.size())];
    const uint64_t serial = 10'000'000 + seed * 100000 + i;
    std::string msg = Message(&rng, pools, user, when + i, serial, MessageSize(&rng));
    const std::string name =
        absl::StrFormat("%d.M%dP%dQ%d.mail1,S=%d", when + i, i, 4242, serial, msg.size());
    // Written in tmp/ and renamed into new/, as a delivery agent does: a
    // reader of new/ never sees a message half written.
    const std::string tmp = absl::StrCat(users_dir, "/", user, "/tmp/", name);
    const std::string path = absl::StrCat(users_dir, "/", user, "/new/", name);
    if (!WriteWhole(tmp, msg, when + i) || rename(tmp.c_str(), path.c_str()) != 0) {
      return Fail(absl::StrCat("write ", path, ": ", strerror(errno)));
    }
    ++delivered;
  }
  std::printf(
      "mailgen: mutated %zu messages: %d flag changes, %d new->cur, "
      "%d folder moves, %d expunged, %d delivered\n",
      msgs.size(), flagged, moved, folder_moved, deleted, delivered);
  return 0;
}

}  // namespace

int RunDeliver(const std::vector<std::string>& slots) {
  slotkeeper::mailgen::DeliverOptions options;
  options.slots = slots;
  options.rate = absl::GetFlag(FLAGS_rate);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.flag_rate = absl::GetFlag(FLAGS_flag_rate);
  options.log_path = absl::GetFlag(FLAGS_log);
  absl::Status st = slotkeeper::mailgen::Deliver(options);
  if (!st.ok()) return Fail(std::string(st.message()));
  return 0;
}

int main(int argc, char** argv) {
  const std::vector<std::string> slots =
      slotkeeper::mailgen::SlotArguments(std::vector<std::string>(argv, argv + argc));
  slotkeeper::ParseCommandLineOrExit(
      argc, argv, "mailgen",
      "Usage: mailgen --slot DIR --users N --messages M --seed S\n"
      "  or:  mailgen --slot DIR --mutate --seed S --flag_pct P --new_pct P\n"
      "  or:  mailgen --deliver --slot DIR [--slot DIR ...] --rate N --duration D --seed S\n"
      "               [--flag_rate F] --log FILE\n"
      "Writes deterministic synthetic Maildir users into a slot, mutates them, or delivers\n"
      "new mail into them at a steady rate.");
  if (absl::GetFlag(FLAGS_deliver)) {
    if (absl::GetFlag(FLAGS_mutate)) return Fail("--deliver and --mutate exclude each other");
    return RunDeliver(slots);
  }
  if (absl::GetFlag(FLAGS_rate) != 0 || absl::GetFlag(FLAGS_duration) != absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_flag_rate) != 0 || !absl::GetFlag(FLAGS_log).empty()) {
    return Fail("--rate, --duration, --flag_rate and --log go with --deliver");
  }
  if (slots.size() > 1) return Fail("--slot given several slots; only --deliver takes several");
  const std::string slot = absl::GetFlag(FLAGS_slot);
  if (slot.empty()) return Fail("--slot is required");
  if (absl::GetFlag(FLAGS_mutate)) return Mutate(slot, absl::GetFlag(FLAGS_seed));
  const int users = absl::GetFlag(FLAGS_users);
  const int messages = absl::GetFlag(FLAGS_messages);
  if (users < 1 || users > 1000000) return Fail("--users must be 1..1000000");
  if (messages < 0) return Fail("--messages must be >= 0");
  if (absl::Status s = slotkeeper::model::ValidateName(slotkeeper::model::NameKind::kUser,
                                                       absl::GetFlag(FLAGS_user_prefix) + "0000");
      !s.ok()) {
    return Fail(absl::StrCat("--user_prefix: ", s.message()));
  }
  if (!MkdirP(slot + "/users")) return Fail("cannot create " + slot + "/users");
  if (!absl::GetFlag(FLAGS_store).empty()) {
    WriteWhole(slot + "/.slotkeeper-store", absl::GetFlag(FLAGS_store) + "\n", 1764000000);
  }
  return Generate(slot, users, messages, absl::GetFlag(FLAGS_seed));
}
