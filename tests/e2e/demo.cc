// The demo: the drive-unit outage that motivated Slotkeeper, on one machine.
//
//   1. A coordinator and four agents (imap1..imap4), each with two drive
//      units (loop-mounted ext4 images when root, else directories) and
//      three slots per unit.
//   2. Mail generated into eight stores, each with three copies on distinct
//      hosts; wait until all are in sync; `slotctl status`.
//   3. imap4's drive unit du2 dies (EXT4_IOC_SHUTDOWN: every I/O fails with
//      EIO). Detection, failover of every store mastered there, the unit
//      declared lost after a short replace_after, new replicas placed on
//      spare slots across the other hosts and re-replicated, with progress.
//   4. Every store fully replicated again, no reference to imap4/du2, no
//      message lost, `slotctl ksck --verify-data` clean, `slotctl incident`.
//
// With Dovecot installed (and root), every master slot is served by its own
// Dovecot instance (the agents' hooks, tools/hooks), behind a front Dovecot
// proxy routed by slotroute: the demo delivers mail to a user of st5 through
// the front's LMTP, flags some through its IMAP, shows that mailbox through
// the front before the outage and again after st5's failover, at the same
// address.
//
// Exits 0 only if every check passed. Cleans up what it started and mounted,
// also on SIGINT/SIGTERM. Run it with `tools/dev demo`.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "base/http_test_client.h"
#include "base/metrics_text.h"
#include "tests/e2e/cluster.h"
#include "tests/e2e/mail_front.h"
#include "tests/e2e/store_checks.h"

namespace slotkeeper::testing {
namespace {

std::atomic<bool> g_interrupted{false};

using StoreSpec = Cluster::StoreLayout;

// Masters spread over the hosts; st5 and st6 live on the unit that dies.
const StoreSpec kStores[] = {
    {"st1", "imap1", "du1s1"}, {"st2", "imap2", "du1s1"}, {"st3", "imap3", "du1s1"},
    {"st4", "imap4", "du1s1"}, {"st5", "imap4", "du2s1"}, {"st6", "imap4", "du2s2"},
    {"st7", "imap1", "du2s1"}, {"st8", "imap2", "du2s1"},
};
constexpr int kUsersPerStore = 20;
constexpr int kMessagesPerStore = 2000;
// The user whose mailbox the demo shows (its store's master is on the unit
// that dies).
constexpr char kShownUser[] = "st5-user0001";

absl::Time g_start;

// What Prometheus would scrape after the recovery: the coordinator counted
// the two failovers and sees every store fully replicated again; imap4's
// agent reports du2 unhealthy and du1 healthy.
void CheckMetrics(Cluster& c, std::vector<std::string>* failures);

void Say(const std::string& text) {
  std::printf("\n\033[1m[%5.1fs] %s\033[0m\n", absl::ToDoubleSeconds(absl::Now() - g_start),
              text.c_str());
  std::fflush(stdout);
}

void Show(Cluster& c, const std::vector<std::string>& args) {
  std::string out;
  auto code = c.Slotctl(args, &out);
  std::printf("$ slotctl %s\n%s", absl::StrJoin(args, " ").c_str(), out.c_str());
  if (!code.ok()) std::printf("(slotctl did not run: %s)\n", code.status().ToString().c_str());
  std::fflush(stdout);
}

bool Check(bool ok, const std::string& what, std::vector<std::string>* failures) {
  std::printf("  %s %s\n", ok ? "\033[32mok\033[0m  " : "\033[31mFAIL\033[0m", what.c_str());
  std::fflush(stdout);
  if (!ok) failures->push_back(what);
  return ok;
}

bool CopyOnUnit(const v1::StoreInfo& s, const std::string& host, const std::string& unit) {
  for (const auto& c : s.copies()) {
    if (c.slot().host() == host && absl::StartsWith(c.slot().slot(), unit + "s")) return true;
  }
  return false;
}

std::string MasterOf(const v1::StoreInfo& s) {
  for (const auto& c : s.copies()) {
    if (c.role() == v1::SLOT_MASTER) return absl::StrCat(c.slot().host(), "/", c.slot().slot());
  }
  return "(none)";
}

// Every user mailgen makes for the demo's stores ("<store>-user%04d").
std::vector<std::string> StoreUsers(const std::string& store) {
  std::vector<std::string> users;
  for (int u = 0; u < kUsersPerStore; ++u) {
    users.push_back(absl::StrFormat("%s-user%04d", store, u));
  }
  return users;
}

// The shown user's mailbox through the front (mail_client.py show).
void ShowMailbox(MailFront& front) {
  std::string out;
  auto code = front.RunClient("show", {std::string("--users=") + kShownUser, "--wait=60"}, &out);
  std::printf("$ mail_client.py show --users=%s\n%s", kShownUser, out.c_str());
  if (!code.ok() || *code != 0) std::printf("(the mailbox could not be read)\n");
  std::fflush(stdout);
}

// The front, slotroute and mail for kShownUser: 5 messages through LMTP,
// flags through IMAP.
std::unique_ptr<MailFront> StartMail(Cluster& c, const std::string& root,
                                     std::vector<std::string>* failures) {
  auto front = MailFront::Start(c, root);
  if (!Check(front.ok(),
             absl::StrCat("front Dovecot proxy and slotroute started",
                          front.ok() ? "" : ": " + front.status().ToString()),
             failures)) {
    return nullptr;
  }
  std::printf("  front proxy: IMAP 127.0.0.1:%d, LMTP 127.0.0.1:%d\n", (*front)->imap_port(),
              (*front)->lmtp_port());
  std::string out;
  auto code = (*front)->RunClient(
      "seed",
      {std::string("--users=") + kShownUser, "--per_user=5", "--out=" + root + "/seed.json"}, &out);
  Check(code.ok() && *code == 0, absl::StrCat("delivered through the front: ", out), failures);
  ShowMailbox(**front);
  // Replication is asynchronous: mail the master took in during the last
  // moment is on it alone. The outage comes once every copy has it.
  const absl::Time replicated = absl::Now();
  absl::StatusOr<SlotContent> copied = WaitForCopiesToMatchMaster(c, "st5", absl::Seconds(60));
  Check(copied.ok(),
        absl::StrCat("every copy of st5 holds that mail and its flags after ",
                     absl::FormatDuration(absl::Now() - replicated)),
        failures);
  return *std::move(front);
}

int RunDemo(const std::string& root) {
  g_start = absl::Now();
  std::vector<std::string> failures;
  ClusterOptions options;
  options.root = root;
  options.verbose = true;
  // 32 slots for 24 copies: the spare capacity that recovery needs.
  options.slots_per_unit = 4;
  options.unit_bytes = 768ull << 20;
  options.slot_capacity_bytes = 160ull << 20;
  // SLOTKEEPER_DEMO_NO_LOOP=1 shows the unprivileged variant on any machine.
  if (const char* v = std::getenv("SLOTKEEPER_DEMO_NO_LOOP"); v != nullptr && *v == '1') {
    options.loop_mounts = false;
  }
  options.cancelled = [] { return g_interrupted.load(); };
  const absl::Status dovecot = CanRunDovecot();
  if (dovecot.ok()) {
    std::vector<std::string> users;
    for (const StoreSpec& s : kStores) {
      for (const std::string& u : StoreUsers(s.name)) users.push_back(u);
    }
    if (absl::Status st = MailFront::Configure(options, users); !st.ok()) {
      std::printf("cannot configure the mail servers: %s\n", st.ToString().c_str());
      return 1;
    }
  }
  options.coordinator_flags = {
      "--heartbeat=500ms",         "--suspect_after=3s",      "--down_after=10s",
      "--failover_grace_hard=3s",  "--failover_grace=20s",    "--lease=4s",
      "--replace_after=15s",       "--task_retry_backoff=2s", "--max_incoming_per_host=2",
      "--max_outgoing_per_host=2",
  };

  Say("1. Starting a coordinator and four IMAP hosts (2 drive units x 4 slots each)");
  auto created = Cluster::Create(options);
  if (!created.ok()) {
    std::printf("cannot set up the cluster: %s\n", created.status().ToString().c_str());
    return 1;
  }
  Cluster& c = **created;
  std::printf("  drive units: %s\n",
              c.loop_mounted() ? "loop-mounted ext4 images" : "directories (no loop mounts here)");
  if (absl::Status st = c.StartCoordinator(); !st.ok()) {
    std::printf("slotmgrd did not start: %s\n", st.ToString().c_str());
    return 1;
  }
  if (absl::Status st = c.StartAllAgents(); !st.ok()) {
    std::printf("agents did not come up: %s\n", st.ToString().c_str());
    return 1;
  }
  std::printf(
      "  status page: http://127.0.0.1:%d/ (metrics: /metrics; imap4's agent: "
      "http://127.0.0.1:%d/metrics)\n",
      c.coordinator_http_port(), c.agent_http_port("imap4"));

  Say(absl::StrCat("2. Generating mail: ", std::size(kStores), " stores x ", kUsersPerStore,
                   " users, ", kMessagesPerStore, " messages each; three copies per store"));
  std::vector<Cluster::StoreLayout> layout;
  for (const StoreSpec& s : kStores) layout.push_back({s.name, s.host, s.slot});
  auto created_stores = c.CreateStores(layout, kUsersPerStore, kMessagesPerStore);
  Check(created_stores.ok(),
        absl::StrCat("every store has three copies in sync",
                     created_stores.ok() ? "" : ": " + created_stores.status().ToString()),
        &failures);
  if (!created_stores.ok()) return 1;
  const std::map<std::string, SlotContent>& snapshot = *created_stores;
  Show(c, {"status"});
  Show(c, {"stores"});
  std::unique_ptr<MailFront> mail;
  if (dovecot.ok()) {
    Say(absl::StrCat("   Real mail: a Dovecot instance per master slot, a front proxy; ",
                     kShownUser, "'s mailbox"));
    mail = StartMail(c, root, &failures);
    if (mail == nullptr) return 1;
  } else {
    std::printf("  (no mail servers: %s)\n", dovecot.ToString().c_str());
  }

  std::vector<std::string> on_failed_unit;
  auto stores = c.Stores();
  if (!stores.ok()) return 1;
  for (const auto& s : *stores) {
    if (CopyOnUnit(s, "imap4", "du2")) on_failed_unit.push_back(s.name());
  }
  std::printf("  stores with a copy on imap4/du2: %s\n",
              absl::StrJoin(on_failed_unit, ", ").c_str());

  Say("3. Injecting the outage: imap4's drive unit du2 dies");
  const absl::Time injected = absl::Now();
  if (LoopFilesystem* fs = c.UnitFilesystem("imap4", "du2")) {
    std::printf("  EXT4_IOC_SHUTDOWN on %s (%s): every I/O now fails with EIO\n",
                fs->mount_point().c_str(), fs->device().c_str());
    if (absl::Status st = fs->Shutdown(); !st.ok()) {
      std::printf("shutdown ioctl failed: %s\n", st.ToString().c_str());
      return 1;
    }
  } else {
    // Without loop mounts the unit is a directory: take it away.
    const std::string mount = c.UnitMount("imap4", "du2");
    std::printf("  removing the directory %s (no loop mounts here)\n", mount.c_str());
    std::filesystem::rename(mount, mount + ".gone");
  }
  v1::Event detected;
  absl::Status det = c.WaitForEvent("unit.failed", absl::Seconds(30), &detected);
  Check(det.ok(),
        absl::StrCat("coordinator detected the failed unit after ",
                     absl::FormatDuration(absl::Now() - injected), ": ", detected.text()),
        &failures);

  for (const StoreSpec& s : kStores) {
    if (s.host != "imap4" || !absl::StartsWith(s.slot, "du2")) continue;
    absl::Status moved = c.WaitForStore(
        s.name,
        [](const v1::StoreInfo& info) {
          for (const auto& cp : info.copies()) {
            if (cp.role() == v1::SLOT_MASTER && cp.usable()) return true;
          }
          return false;
        },
        absl::Seconds(60), "a usable master after failover");
    auto info = c.Store(s.name);
    Check(moved.ok() && info.ok(),
          absl::StrCat(s.name, " failed over from imap4/", s.slot, " to ",
                       info.ok() ? MasterOf(*info) : "?", " after ",
                       absl::FormatDuration(absl::Now() - injected)),
          &failures);
  }
  Show(c, {"status"});
  if (mail != nullptr) {
    Say(absl::StrCat("   ", kShownUser, "'s mailbox after st5's failover, same front address"));
    ShowMailbox(*mail);
    std::string out;
    auto code = mail->RunClient(
        "check", {"--expect=" + root + "/seed.json", "--allow_extra", "--wait=60"}, &out);
    Check(
        code.ok() && *code == 0,
        absl::StrCat(kShownUser, " reads the mail delivered before the outage, flags kept: ", out),
        &failures);
    Check(!mail->InstanceRunning("imap4", "du2s1"),
          "the Dovecot instance of the failed master imap4/du2s1 is stopped", &failures);
  }

  Say("   Waiting for replace_after (15 s): the unit is declared lost, new replicas placed");
  absl::Status lost = c.WaitForEvent("unit.lost", absl::Seconds(60));
  Check(lost.ok(), "imap4/du2 declared lost", &failures);
  Show(c, {"tasks"});

  absl::Time last_print = absl::Now();
  absl::Status recovered = c.WaitForStatus(
      [&](const v1::ClusterStatus& s) {
        if (absl::Now() - last_print > absl::Seconds(1)) {
          last_print = absl::Now();
          const auto& r = s.recovery();
          std::printf("  re-replication: %u task(s) running, %u queued; users %lu/%s; %.1f MB/%s\n",
                      r.tasks_running(), r.tasks_queued(), r.users_done(),
                      r.users_total() > 0 ? absl::StrCat(r.users_total()).c_str() : "unknown",
                      r.bytes_done() / 1e6,
                      r.bytes_total() > 0
                          ? absl::StrFormat("%.1f MB", r.bytes_total() / 1e6).c_str()
                          : "unknown");
          std::fflush(stdout);
        }
        if (s.stores_healthy() != s.stores_total() || s.recovery().tasks_running() != 0 ||
            s.recovery().tasks_queued() != 0) {
          return false;
        }
        auto all = c.Stores();
        if (!all.ok()) return false;
        for (const auto& st : *all) {
          if (CopyOnUnit(st, "imap4", "du2")) return false;
        }
        return true;
      },
      absl::Seconds(120), "every store fully replicated again");
  Check(recovered.ok(),
        absl::StrCat("every store fully replicated again after ",
                     absl::FormatDuration(absl::Now() - injected),
                     recovered.ok() ? "" : ": " + recovered.ToString()),
        &failures);

  Say("4. Checking the result");
  stores = c.Stores();
  if (stores.ok()) {
    std::vector<std::string> still;
    for (const auto& s : *stores) {
      if (CopyOnUnit(s, "imap4", "du2")) still.push_back(s.name());
    }
    Check(still.empty(),
          absl::StrCat("no store refers to imap4/du2",
                       still.empty() ? "" : ": " + absl::StrJoin(still, ", ")),
          &failures);
  }
  for (const auto& [store, content] : snapshot) {
    auto problems = c.CheckStoreHas(store, content);
    bool ok = problems.ok() && problems->empty();
    Check(
        ok,
        absl::StrCat(store, ": all ", MessageCount(content),
                     " messages on every copy, content hashes equal",
                     ok ? ""
                        : absl::StrCat(" (",
                                       problems.ok() ? absl::StrJoin(*problems, "; ").substr(0, 400)
                                                     : problems.status().ToString(),
                                       ")")),
        &failures);
  }
  std::string out;
  auto ksck = c.Slotctl({"ksck", "--verify-data"}, &out);
  std::printf("$ slotctl ksck --verify-data\n%s", out.c_str());
  Check(ksck.ok() && *ksck == 0, "slotctl ksck --verify-data is clean", &failures);
  Show(c, {"status"});
  CheckMetrics(c, &failures);
  // The incident is the outage: from the injection on.
  const int64_t since_s = absl::ToInt64Seconds(absl::Now() - injected) + 1;
  RecordIncidentInputs(c, root, absl::StrCat(since_s, "s"));
  Show(c, {"incident", "--since", absl::StrCat(since_s, "s")});

  Say(failures.empty()
          ? absl::StrCat("DEMO PASSED in ", absl::FormatDuration(absl::Now() - g_start))
          : absl::StrCat("DEMO FAILED: ", absl::StrJoin(failures, "; ")));
  return failures.empty() ? 0 : 1;
}

absl::StatusOr<Exposition> Scrape(int port) {
  auto reply = HttpGet(port, "/metrics");
  if (!reply.ok()) return reply.status();
  if (reply->status != 200) {
    return absl::UnavailableError(absl::StrCat("/metrics answered ", reply->status));
  }
  return ParseExposition(reply->body);
}

void CheckMetrics(Cluster& c, std::vector<std::string>* failures) {
  auto coordinator = Scrape(c.coordinator_http_port());
  auto agent = Scrape(c.agent_http_port("imap4"));
  if (!coordinator.ok() || !agent.ok()) {
    Check(false,
          absl::StrCat("scraping /metrics: ", coordinator.status().ToString(), "; ",
                       agent.status().ToString()),
          failures);
    return;
  }
  const double failovers = coordinator->Sum("slotkeeper_failovers_total");
  const double hard = coordinator->Sum("slotkeeper_failovers_total", {{"cause", "hard_evidence"}});
  const double full =
      coordinator->Sum("slotkeeper_stores_by_replication", {{"replication", "fully_replicated"}});
  std::printf(
      "$ curl -s http://127.0.0.1:%d/metrics | grep ...\n"
      "slotkeeper_failovers_total (all causes) %g, cause=\"hard_evidence\" %g\n"
      "slotkeeper_stores_by_replication{replication=\"fully_replicated\"} %g\n",
      c.coordinator_http_port(), failovers, hard, full);
  const double du1 = agent->Sum("slotkeeper_agent_unit_healthy", {{"unit", "du1"}});
  const double du2 = agent->Sum("slotkeeper_agent_unit_healthy", {{"unit", "du2"}});
  std::printf(
      "$ curl -s http://127.0.0.1:%d/metrics | grep unit_healthy   # imap4's agent\n"
      "slotkeeper_agent_unit_healthy{unit=\"du1\"} %g\n"
      "slotkeeper_agent_unit_healthy{unit=\"du2\"} %g\n",
      c.agent_http_port("imap4"), du1, du2);
  Check(failovers >= 2 && hard >= 2,
        "the coordinator's metrics count both failovers, on hard evidence", failures);
  Check(full == static_cast<double>(std::size(kStores)),
        "the coordinator's metrics show every store fully replicated", failures);
  Check(agent->Has("slotkeeper_agent_unit_healthy", {{"unit", "du2"}}) && du2 == 0 && du1 == 1,
        "imap4's agent metrics show du2 unhealthy and du1 healthy", failures);
}

}  // namespace
}  // namespace slotkeeper::testing

int main(int argc, char** argv) {
  // SIGINT/SIGTERM end the waits; the cluster's destructor then stops every
  // process and unmounts every image.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set]() mutable {
    int sig;
    sigwait(&set, &sig);
    std::fprintf(stderr, "\ninterrupted: stopping the cluster and cleaning up...\n");
    slotkeeper::testing::g_interrupted = true;
  }).detach();

  std::string root = argc > 1 ? argv[1] : "";
  if (root.empty()) {
    char tmpl[] = "/tmp/slotkeeper-demo.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return 1;
    root = tmpl;
    ::chmod(tmpl, 0755);  // the mail servers run as the mail user
  }
  int rc = slotkeeper::testing::RunDemo(root);
  if (const char* keep = std::getenv("SLOTKEEPER_DEMO_KEEP"); keep != nullptr && *keep == '1') {
    std::fprintf(stderr, "logs kept in %s\n", root.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);  // after the cluster unmounted everything
  }
  return rc;
}
