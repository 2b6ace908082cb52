#include "replicator/reports.h"

namespace slotkeeper::replicator {

v1::HealthReport BuildReport(const HealthSnapshot& health,
                             const std::vector<v1::Lease>& leases_held,
                             const std::vector<v1::ReplicationStatus>& replication,
                             const ReportContext& context) {
  v1::HealthReport r;
  r.set_report_id(context.report_id);
  r.set_agent_time_ms(context.agent_time_ms);
  r.set_echo_coordinator_time_ms(context.echo_coordinator_time_ms);
  r.set_echo_held_ms(context.echo_held_ms);
  for (const Condition& c : health.conditions) *r.add_conditions() = c;
  for (const v1::FilesystemUsage& f : health.filesystems) *r.add_filesystems() = f;
  for (const v1::SlotUsage& s : health.slots) *r.add_slots() = s;
  for (const v1::ReplicationStatus& s : replication) *r.add_replication() = s;
  for (const v1::Lease& l : leases_held) *r.add_leases_held() = l;
  for (const v1::FailsafePromise& p : context.failsafe_promises) *r.add_failsafe_promises() = p;
  if (context.include_contents) {
    for (const v1::SlotContents& c : health.contents) *r.add_contents() = c;
  }
  return r;
}

v1::HostInventory BuildInventory(const AgentConfig& config, const HealthSnapshot& health,
                                 const std::string& peer_address,
                                 const std::string& agent_version) {
  v1::HostInventory inv;
  inv.set_host(config.host());
  inv.set_peer_address(peer_address);
  inv.set_agent_version(agent_version);
  for (const UnitConfig& u : config.units()) {
    v1::DriveUnit* d = inv.add_units();
    d->set_name(u.name());
    for (const std::string& dev : u.devices()) d->add_devices(dev);
  }
  for (const FilesystemConfig& f : config.filesystems()) {
    v1::Filesystem* fs = inv.add_filesystems();
    fs->set_mount_point(f.mount_point());
    fs->set_unit(f.unit());
    fs->set_device(f.device());
  }
  for (const SlotConfig& s : config.slots()) {
    v1::Slot* slot = inv.add_slots();
    slot->set_name(s.name());
    slot->set_path(s.path());
    slot->set_filesystem(s.filesystem());
    slot->set_capacity_bytes(s.capacity_bytes());
    slot->set_service_address(s.service_address());
  }
  for (const v1::SlotContents& c : health.contents) *inv.add_contents() = c;
  return inv;
}

}  // namespace slotkeeper::replicator
