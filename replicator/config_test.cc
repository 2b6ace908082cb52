#include "replicator/config.h"

#include <string>

#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::replicator {
namespace {

using ::testing::HasSubstr;

// Line numbers below refer to this text (line 1 is `host`).
constexpr char kGood[] = R"(host: "imap4"
coordinator_address: "127.0.0.1:7400"
peer_listen_address: "127.0.0.1:0"
data_dir: "/var/lib/slotkeeper"
units { name: "du1" devices: "loop3" }
units { name: "du2" devices: "sdb" }
filesystems { mount_point: "/srv/du1" unit: "du1" }
filesystems { mount_point: "/srv/du2" unit: "du2" }
slots {
  name: "s01"
  path: "/srv/du1/s01"
  filesystem: "/srv/du1"
  capacity_bytes: 1000
  service_address: "10.0.0.4:143"
}
slots { name: "s02" path: "/srv/du2/s02" filesystem: "/srv/du2" }
hooks { promote: "true" }
)";

std::string Edit(absl::string_view from, absl::string_view to) {
  return absl::StrReplaceAll(kGood, {{from, to}});
}

TEST(ConfigTest, AcceptsAGoodConfigAndFillsDefaults) {
  absl::StatusOr<AgentConfig> c = ParseConfig(kGood);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->host(), "imap4");
  EXPECT_EQ(c->slots_size(), 2);
  EXPECT_EQ(c->probes().write_deadline_ms(), 5000);
  EXPECT_EQ(c->probes().mountinfo_path(), "/proc/self/mountinfo");
  EXPECT_EQ(c->hooks().timeout_ms(), 30000);
  EXPECT_EQ(c->hooks().promote(), "true");
}

TEST(ConfigTest, RefusesUnknownFieldNamingTheLine) {
  absl::StatusOr<AgentConfig> c =
      ParseConfig(Edit("units { name: \"du2\"", "units { colour: \"du2\""), "agent.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.status().message(), HasSubstr("agent.conf: line 6"));
  EXPECT_THAT(c.status().message(), HasSubstr("colour"));
}

TEST(ConfigTest, RefusesSyntaxErrorNamingTheLine) {
  absl::StatusOr<AgentConfig> c = ParseConfig(Edit("capacity_bytes: 1000", "capacity_bytes: {"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("line 13"));
}

TEST(ConfigTest, RefusesSlotOutsideItsFilesystem) {
  absl::StatusOr<AgentConfig> c =
      ParseConfig(Edit("path: \"/srv/du1/s01\"", "path: \"/srv/du10/s01\""));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("config:11: "));
  EXPECT_THAT(c.status().message(), HasSubstr("not inside its filesystem /srv/du1"));
}

TEST(ConfigTest, RefusesSlotAtTheMountPointItself) {
  absl::StatusOr<AgentConfig> c = ParseConfig(Edit("path: \"/srv/du1/s01\"", "path: \"/srv/du1\""));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("not inside"));
}

TEST(ConfigTest, RefusesTwoSlotsOnOnePath) {
  absl::StatusOr<AgentConfig> c =
      ParseConfig(Edit("path: \"/srv/du2/s02\" filesystem: \"/srv/du2\"",
                       "path: \"/srv/du1/s01\" filesystem: \"/srv/du1\""));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("config:16: "));
  EXPECT_THAT(c.status().message(), HasSubstr("share the path /srv/du1/s01"));
}

TEST(ConfigTest, RefusesNestedSlotPaths) {
  absl::StatusOr<AgentConfig> c =
      ParseConfig(Edit("path: \"/srv/du2/s02\" filesystem: \"/srv/du2\"",
                       "path: \"/srv/du1/s01/inner\" filesystem: \"/srv/du1\""));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("share the path"));
}

TEST(ConfigTest, RefusesUnknownUnit) {
  absl::StatusOr<AgentConfig> c = ParseConfig(
      Edit("mount_point: \"/srv/du2\" unit: \"du2\"", "mount_point: \"/srv/du2\" unit: \"du9\""));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("config:8: "));
  EXPECT_THAT(c.status().message(), HasSubstr("unknown unit \"du9\""));
}

TEST(ConfigTest, RefusesUnknownFilesystem) {
  absl::StatusOr<AgentConfig> c =
      ParseConfig(Edit("filesystem: \"/srv/du2\" }", "filesystem: \"/srv/du3\" }"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("unknown filesystem \"/srv/du3\""));
}

TEST(ConfigTest, RefusesDuplicateNames) {
  EXPECT_THAT(ParseConfig(Edit("name: \"du2\"", "name: \"du1\"")).status().message(),
              HasSubstr("duplicate unit \"du1\""));
  EXPECT_THAT(ParseConfig(Edit("name: \"s02\"", "name: \"s01\"")).status().message(),
              HasSubstr("duplicate slot \"s01\""));
  EXPECT_THAT(ParseConfig(Edit("mount_point: \"/srv/du2\" unit: \"du2\"",
                               "mount_point: \"/srv/du1\" unit: \"du2\""))
                  .status()
                  .message(),
              HasSubstr("duplicate filesystem \"/srv/du1\""));
  EXPECT_THAT(ParseConfig(Edit("devices: \"sdb\"", "devices: \"loop3\"")).status().message(),
              HasSubstr("device \"loop3\" belongs to two units"));
}

TEST(ConfigTest, RefusesBadAddresses) {
  absl::StatusOr<AgentConfig> c = ParseConfig(Edit("127.0.0.1:7400", "127.0.0.1"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("config:2: "));
  EXPECT_THAT(c.status().message(), HasSubstr("127.0.0.1"));
  EXPECT_FALSE(ParseConfig(Edit("127.0.0.1:0", "127.0.0.1:99999")).ok());
  EXPECT_THAT(ParseConfig(Edit("10.0.0.4:143", "10.0.0.4")).status().message(),
              HasSubstr("config:14: slot s01"));
}

// The data path's safety settings: defaults that keep a week of
// quarantine at least, owners given whole, shares that are shares.
TEST(ConfigTest, DataPathDefaultsAndLimits) {
  absl::StatusOr<AgentConfig> c = ParseConfig(kGood);
  ASSERT_TRUE(c.ok()) << c.status();
  const DataPathConfig& d = c->data_path();
  EXPECT_EQ(d.scrub_bytes_per_second(), 8u << 20);
  EXPECT_EQ(d.scrub_pass_interval_ms(), 86'400'000);
  EXPECT_FALSE(d.scrub_disabled());
  EXPECT_EQ(d.quarantine_keep_days(), 14);
  EXPECT_DOUBLE_EQ(d.quarantine_max_share(), 0.1);
  EXPECT_DOUBLE_EQ(d.guard_max_removal_share(), 0.1);
  EXPECT_EQ(d.guard_min_removals(), 2u);
  EXPECT_EQ(d.catch_up_interval_ms(), 5000);
  EXPECT_FALSE(d.has_mail_uid());
  const std::string with = "hooks { promote: \"true\" }\ndata_path { ";
  EXPECT_TRUE(
      ParseConfig(Edit("hooks { promote: \"true\" }", with + "mail_uid: 8 mail_gid: 12 }")).ok());
  EXPECT_THAT(
      ParseConfig(Edit("hooks { promote: \"true\" }", with + "mail_uid: 8 }")).status().message(),
      HasSubstr("mail_uid and mail_gid together"));
  EXPECT_THAT(ParseConfig(Edit("hooks { promote: \"true\" }", with + "quarantine_keep_days: 3 }"))
                  .status()
                  .message(),
              HasSubstr("at least 7"));
  EXPECT_FALSE(
      ParseConfig(Edit("hooks { promote: \"true\" }", with + "guard_max_removal_share: 1 }")).ok());
  EXPECT_THAT(ParseConfig(Edit("hooks { promote: \"true\" }", with + "catch_up_interval_ms: 50 }"))
                  .status()
                  .message(),
              HasSubstr("catch_up_interval_ms"));
  EXPECT_EQ(d.replication_feed(), "push");
  EXPECT_EQ(d.safety_net_interval_ms(), 300'000);
  EXPECT_TRUE(
      ParseConfig(Edit("hooks { promote: \"true\" }", with + "replication_feed: \"poll\" }")).ok());
  EXPECT_THAT(
      ParseConfig(Edit("hooks { promote: \"true\" }", with + "replication_feed: \"rsync\" }"))
          .status()
          .message(),
      HasSubstr("replication_feed must be \"push\" or \"poll\", not \"rsync\""));
  EXPECT_THAT(ParseConfig(Edit("hooks { promote: \"true\" }",
                               with + "catch_up_interval_ms: 9000 safety_net_interval_ms: 8000 }"))
                  .status()
                  .message(),
              HasSubstr("safety_net_interval_ms must be at least catch_up_interval_ms"));
}

TEST(ConfigTest, TlsFilesTogetherAbsoluteAndDefaults) {
  absl::StatusOr<AgentConfig> c = ParseConfig(kGood);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tls().coordinator_identity(), "slotmgr");
  EXPECT_EQ(c->tls().refresh_ms(), 60000);
  const std::string hooks = "hooks { promote: \"true\" }";
  const std::string with = hooks + "\ntls { ";
  absl::StatusOr<AgentConfig> tls = ParseConfig(
      Edit(hooks, with + "ca_file: \"/c/ca.pem\" cert_file: \"/c/h.pem\" key_file: \"/c/h.key\" "
                         "coordinator_identity: \"coord1\" }"));
  ASSERT_TRUE(tls.ok()) << tls.status();
  EXPECT_EQ(tls->tls().coordinator_identity(), "coord1");
  EXPECT_THAT(ParseConfig(Edit(hooks, with + "ca_file: \"/c/ca.pem\" }")).status().message(),
              HasSubstr("ca_file, cert_file and key_file together"));
  EXPECT_THAT(ParseConfig(Edit(hooks, with + "ca_file: \"ca.pem\" cert_file: \"/c/h.pem\" "
                                             "key_file: \"/c/h.key\" }"))
                  .status()
                  .message(),
              HasSubstr("\"ca.pem\" must be an absolute path"));
  EXPECT_FALSE(ParseConfig(Edit(hooks, with + "coordinator_identity: \"a b\" }")).ok());
}

TEST(ConfigTest, RefusesMissingOrRelativeDataDir) {
  EXPECT_THAT(ParseConfig(Edit("\"/var/lib/slotkeeper\"", "\"var\"")).status().message(),
              HasSubstr("data_dir must be an absolute path"));
}

TEST(ConfigTest, LoadConfigNamesAnUnreadablePath) {
  absl::StatusOr<AgentConfig> c = LoadConfig("/nonexistent/agent.conf");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("/nonexistent/agent.conf"));
}

TEST(ConfigTest, PathIsInsideComparesComponents) {
  EXPECT_TRUE(PathIsInside("/srv/du1/s01", "/srv/du1"));
  EXPECT_TRUE(PathIsInside("/srv/du1/s01", "/srv/du1/"));
  EXPECT_FALSE(PathIsInside("/srv/du10/s01", "/srv/du1"));
  EXPECT_TRUE(PathIsInside("/a", "/"));
}

}  // namespace
}  // namespace slotkeeper::replicator
