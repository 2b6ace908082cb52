// The smallest whole-system check: a coordinator and four agents come up on
// loopback, a store is created with three copies, and slotctl sees it.
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/e2e/cluster.h"

namespace slotkeeper::testing {
namespace {

TEST(SmokeTest, ClusterComesUpAndStoresAreCreated) {
  ClusterOptions options;
  options.root = std::string(std::getenv("TEST_TMPDIR")) + "/smoke";
  options.verbose = true;
  auto cluster = Cluster::Create(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  Cluster& c = **cluster;
  ASSERT_TRUE(c.StartCoordinator().ok());
  ASSERT_TRUE(c.StartAllAgents().ok());
  ASSERT_TRUE(c.GenerateMail("imap1", "du1s1", "st1", 5, 100, 1).ok());

  std::string out;
  auto code =
      c.Slotctl({"store", "create", "st1", "--master", "imap1/du1s1", "--copies", "3"}, &out);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0) << out;
  code = c.Slotctl({"status"}, &out);
  ASSERT_TRUE(code.ok());
  std::fprintf(stderr, "%s\n", out.c_str());
  auto store = c.Store("st1");
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(store->copies_size(), 3);
  std::fprintf(stderr, "%s\n", store->DebugString().c_str());
}

}  // namespace
}  // namespace slotkeeper::testing
