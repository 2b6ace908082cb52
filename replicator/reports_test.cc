// The inventory and the report from literal state.
#include "replicator/reports.h"

#include "gtest/gtest.h"

namespace slotkeeper::replicator {
namespace {

TEST(BuildReportTest, CarriesEverythingAndContentsOnlyWhenAsked) {
  HealthSnapshot h;
  h.conditions.push_back(MakeCondition(v1::READ_ONLY, v1::SUBJECT_FILESYSTEM, "/a", "ro"));
  h.contents.emplace_back().set_slot("s01");
  v1::Lease lease;
  lease.set_slot("s01");
  ReportContext c{7, 1000, 900, 40, false};
  v1::HealthReport r = BuildReport(h, {lease}, {}, c);
  EXPECT_EQ(r.report_id(), 7u);
  EXPECT_EQ(r.agent_time_ms(), 1000);
  EXPECT_EQ(r.echo_coordinator_time_ms(), 900);
  EXPECT_EQ(r.echo_held_ms(), 40);
  EXPECT_EQ(r.conditions_size(), 1);
  EXPECT_EQ(r.leases_held_size(), 1);
  EXPECT_EQ(r.contents_size(), 0);
  c.include_contents = true;
  EXPECT_EQ(BuildReport(h, {}, {}, c).contents_size(), 1);
}

TEST(BuildInventoryTest, CarriesTheConfiguredHardwareAndTheSlotContents) {
  AgentConfig config;
  config.set_host("h1");
  UnitConfig* unit = config.add_units();
  unit->set_name("du1");
  unit->add_devices("/dev/sdb");
  FilesystemConfig* fs = config.add_filesystems();
  fs->set_mount_point("/srv/du1");
  fs->set_unit("du1");
  fs->set_device("/dev/sdb1");
  SlotConfig* slot = config.add_slots();
  slot->set_name("s01");
  slot->set_path("/srv/du1/s01");
  slot->set_filesystem("/srv/du1");
  slot->set_capacity_bytes(1 << 30);
  slot->set_service_address("10.0.0.1:143");
  HealthSnapshot h;
  h.contents.emplace_back().set_slot("s01");
  const v1::HostInventory inv = BuildInventory(config, h, "10.0.0.1:7001", "replicatord/0.1");
  EXPECT_EQ(inv.host(), "h1");
  EXPECT_EQ(inv.peer_address(), "10.0.0.1:7001");
  EXPECT_EQ(inv.agent_version(), "replicatord/0.1");
  ASSERT_EQ(inv.units_size(), 1);
  EXPECT_EQ(inv.units(0).name(), "du1");
  ASSERT_EQ(inv.units(0).devices_size(), 1);
  EXPECT_EQ(inv.units(0).devices(0), "/dev/sdb");
  ASSERT_EQ(inv.filesystems_size(), 1);
  EXPECT_EQ(inv.filesystems(0).device(), "/dev/sdb1");
  EXPECT_EQ(inv.filesystems(0).unit(), "du1");
  ASSERT_EQ(inv.slots_size(), 1);
  EXPECT_EQ(inv.slots(0).path(), "/srv/du1/s01");
  EXPECT_EQ(inv.slots(0).capacity_bytes(), 1u << 30);
  EXPECT_EQ(inv.slots(0).service_address(), "10.0.0.1:143");
  ASSERT_EQ(inv.contents_size(), 1);
  EXPECT_EQ(inv.contents(0).slot(), "s01");
}

}  // namespace
}  // namespace slotkeeper::replicator
