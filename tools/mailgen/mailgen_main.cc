// mailgen: writes realistic synthetic Maildir users into a slot,
// deterministically from a seed, or mutates an existing slot the way a day of
// mail does (deliveries, flag changes, new -> cur, folder moves, expunges).
//
//   mailgen --slot DIR --users 120 --messages 24000 --seed 1 [--store NAME]
//   mailgen --slot DIR --mutate --seed 2 --flag_pct 10 --new_pct 1
//           [--move_pct 0] [--folder_move_pct 0] [--delete_pct 0]
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

ABSL_FLAG(std::string, slot, "", "slot directory (users/ is created in it)");
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

namespace {

// splitmix64: tiny, fast and the same everywhere (std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return (Next() >> 11) * (1.0 / 9007199254740992.0); }
  uint64_t Below(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  double LogUniform(double lo, double hi) {
    return std::exp(std::log(lo) + Uniform() * (std::log(hi) - std::log(lo)));
  }

 private:
  uint64_t s_;
};

const char* kWords[] = {"meeting",  "report",   "invoice",   "the",      "and",      "project",
                        "schedule", "please",   "review",    "attached", "thanks",   "regards",
                        "update",   "server",   "quarterly", "budget",   "team",     "tomorrow",
                        "deadline", "customer", "release",   "notes",    "question", "about",
                        "your",     "order",    "shipping",  "confirm",  "account",  "password",
                        "holiday",  "lunch",    "friday",    "draft"};
const char* kNames[] = {"Alice Martin", "Bob Chen",  "Carla Rossi", "David Okafor", "Eva Novak",
                        "Farid Haddad", "Grace Kim", "Hugo Dubois", "Ines Garcia",  "Jonas Berg"};
const char* kDomains[] = {"example.org", "example.com", "mail.example.net", "lists.example.org"};

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

// Pools of body text and base64 the messages take slices of (fast; unique
// headers make each message distinct).
struct Pools {
  std::string text;
  std::string b64;
  explicit Pools(Rng* rng) {
    while (text.size() < (2u << 20)) {
      std::string line;
      while (line.size() < 70) {
        absl::StrAppend(&line, kWords[rng->Below(std::size(kWords))], " ");
      }
      absl::StrAppend(&text, line, "\r\n");
    }
    static const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    b64.reserve(5u << 20);
    while (b64.size() < (5u << 20)) {
      for (int i = 0; i < 76; ++i) b64.push_back(kB64[rng->Below(64)]);
      b64 += "\r\n";
    }
  }
};

size_t MessageSize(Rng* rng) {
  double u = rng->Uniform();
  if (u < 0.70) return static_cast<size_t>(rng->LogUniform(2e3, 12e3));
  if (u < 0.92) return static_cast<size_t>(rng->LogUniform(12e3, 100e3));
  if (u < 0.99) return static_cast<size_t>(rng->LogUniform(100e3, 600e3));
  return static_cast<size_t>(rng->LogUniform(600e3, 4e6));
}

std::string Message(Rng* rng, const Pools& pools, const std::string& user, int64_t when,
                    uint64_t serial, size_t size) {
  const char* from = kNames[rng->Below(std::size(kNames))];
  const char* domain = kDomains[rng->Below(std::size(kDomains))];
  std::string subject;
  for (int i = 0, n = 3 + rng->Below(5); i < n; ++i) {
    absl::StrAppend(&subject, i ? " " : "", kWords[rng->Below(std::size(kWords))]);
  }
  std::string m = absl::StrFormat(
      "Return-Path: <sender%d@%s>\r\n"
      "Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\r\n"
      "\tby imap.example.net with ESMTPS id %016x\r\n"
      "\tfor <%s@example.net>; %s\r\n"
      "From: %s <sender%d@%s>\r\n"
      "To: %s@example.net\r\n"
      "Subject: %s\r\n"
      "Date: %s\r\n"
      "Message-ID: <%016x.%d@%s>\r\n"
      "MIME-Version: 1.0\r\n",
      serial % 97, domain, serial % 7, domain, serial % 7, domain, 1 + serial % 250, rng->Next(),
      user,
      absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", absl::FromUnixSeconds(when),
                       absl::UTCTimeZone()),
      from, serial % 97, domain, user, subject,
      absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", absl::FromUnixSeconds(when - 30),
                       absl::UTCTimeZone()),
      rng->Next(), serial, domain);
  if (size < 40000) {
    m += "Content-Type: text/plain; charset=utf-8\r\n\r\n";
    size_t need = size > m.size() ? size - m.size() : 64;
    size_t off = rng->Below(pools.text.size() - need - 1);
    m.append(pools.text, off, need);
  } else {
    m += "Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n\r\n";
    m.append(pools.text, rng->Below(pools.text.size() / 2), 1500);
    m += absl::StrFormat(
        "\r\n--b1\r\nContent-Type: application/pdf; name=\"doc%d.pdf\"\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\n",
        serial);
    size_t need = size > m.size() + 10 ? size - m.size() - 10 : 64;
    need = std::min(need, pools.b64.size() - 1);
    size_t off = rng->Below(pools.b64.size() - need);
    m.append(pools.b64, off, need);
    m += "\r\n--b1--\r\n";
  }
  return m;
}

std::string Flags(Rng* rng) {
  double u = rng->Uniform();
  if (u < 0.70) return "S";
  if (u < 0.85) return "RS";
  if (u < 0.93) return "FS";
  if (u < 0.97) return "";
  return "ST";
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
    std::string path = absl::StrFormat("%s/%s/new/%d.M%dP%dQ%d.mail1,S=%d", users_dir, user,
                                       when + i, i, 4242, serial, msg.size());
    if (!WriteWhole(path, msg, when + i)) {
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

int main(int argc, char** argv) {
  slotkeeper::ParseCommandLineOrExit(
      argc, argv, "mailgen",
      "Usage: mailgen --slot DIR --users N --messages M --seed S\n"
      "  or:  mailgen --slot DIR --mutate --seed S --flag_pct P --new_pct P\n"
      "Writes deterministic synthetic Maildir users into a slot, or mutates them.");
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
