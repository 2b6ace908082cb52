#include "replicator/sync/manifest.h"

#include <sys/stat.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "replicator/sync/test_files.h"

namespace slotkeeper::sync {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> Paths(const Manifest& m) {
  std::vector<std::string> out;
  for (const ManifestEntry& e : m) out.push_back(e.path() + (e.directory() ? "/" : ""));
  return out;
}

TEST(ManifestTest, ScansFollowTheMaildirRule) {
  const std::string slot = Tmp() + "/manifest_maildir";
  const std::string user = slot + "/users/alice";
  WriteFile(user + "/cur/1:2,S", "one");
  WriteFile(user + "/tmp/2", "being delivered");           // Maildir tmp/: not listed
  WriteFile(user + "/archive/tmp/3", "an ordinary file");  // no cur beside: listed
  WriteFile(user + "/cur/.slotsync-1-1", "a leftover");    // a temporary file
  absl::StatusOr<Fd> root = OpenRootDir(slot);
  ASSERT_TRUE(root.ok());
  std::vector<std::string> temps;
  absl::StatusOr<Manifest> m = ScanUser(root->get(), "s1", "alice", nullptr, nullptr, &temps);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_THAT(Paths(*m), ElementsAre("archive/", "archive/tmp/", "archive/tmp/3", "cur/",
                                     "cur/1:2,S", "tmp/"));
  EXPECT_THAT(temps, ElementsAre("cur/.slotsync-1-1"));

  // One path at a time, the same answers.
  absl::StatusOr<Fd> user_dir = OpenDirBeneath(root->get(), "users/alice", false);
  ASSERT_TRUE(user_dir.ok());
  auto kind = [&](const std::string& path) {
    absl::StatusOr<PathLookup> found =
        LookupUserPath(user_dir->get(), "s1", "alice", path, nullptr);
    EXPECT_TRUE(found.ok()) << found.status();
    return found.ok() ? found->kind : PathLookup::kOther;
  };
  EXPECT_EQ(kind("cur/1:2,S"), PathLookup::kFile);
  EXPECT_EQ(kind("tmp/2"), PathLookup::kSkipped);
  EXPECT_EQ(kind("archive/tmp/3"), PathLookup::kFile);
  EXPECT_EQ(kind("cur/gone"), PathLookup::kAbsent);
  EXPECT_EQ(kind("archive"), PathLookup::kOther);
}

TEST(ManifestTest, DigestFollowsContentAndMetadata) {
  Manifest a(1);
  a[0].set_path("cur/1");
  a[0].set_hash(std::string(kHashBytes, 'h'));
  a[0].set_size(3);
  Manifest b = a;
  EXPECT_EQ(ManifestDigest(a), ManifestDigest(b));
  b[0].set_mode(0600);
  EXPECT_NE(ManifestDigest(a), ManifestDigest(b));
  b = a;
  b[0].set_hash(std::string(kHashBytes, 'i'));
  EXPECT_NE(ManifestDigest(a), ManifestDigest(b));
}

}  // namespace
}  // namespace slotkeeper::sync
