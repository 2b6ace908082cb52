// slotpeer: serves the ReplicaPeer service over local slot directories with
// the data path library, without the rest of the agent. Used by the
// benchmark and for manual migrations.
//
//   slotpeer --slot NAME=/abs/path [--slot ...] --listen 127.0.0.1:0
//            --data_dir DIR [--port_file FILE]
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/clock.h"
#include "base/command_line.h"
#include "base/grpc_util.h"
#include "base/log.h"
#include "base/log_flags.h"
#include "base/tls_flags.h"
#include "replicator/sync/peer_service.h"
#include "replicator/sync/state_db.h"

ABSL_FLAG(std::vector<std::string>, slot, {},
          "NAME=/absolute/path of a slot to serve; repeat or comma-separate");
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "address to listen on");
ABSL_FLAG(std::string, data_dir, "", "directory for the hash cache (RocksDB)");
ABSL_FLAG(std::string, port_file, "", "write the bound port here");

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "slotpeer: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace slotkeeper;
  ParseCommandLineOrExit(argc, argv, "slotpeer",
                         "Usage: slotpeer --slot NAME=PATH --listen HOST:PORT --data_dir DIR "
                         "[OPTION]...\n"
                         "Serves the agents' ReplicaPeer service over slot directories "
                         "(benchmarks, repair).");
  if (absl::Status s = InitLoggingFromFlags("slotpeer"); !s.ok()) return Fail(s.ToString());
  if (absl::Status s = InstallTransportSecurityFromFlags(); !s.ok()) {
    return Fail(std::string(s.message()));
  }
  std::map<std::string, std::string> slots;
  for (const std::string& s : absl::GetFlag(FLAGS_slot)) {
    std::pair<std::string, std::string> kv = absl::StrSplit(s, absl::MaxSplits('=', 1));
    if (kv.first.empty() || kv.second.empty() || kv.second[0] != '/') {
      return Fail(absl::StrCat("--slot \"", s, "\": expected NAME=/absolute/path"));
    }
    slots[kv.first] = kv.second;
  }
  if (slots.empty()) return Fail("at least one --slot NAME=PATH is required");
  const std::string listen = absl::GetFlag(FLAGS_listen);
  if (absl::Status s = ValidateHostPort(listen, /*allow_port_zero=*/true); !s.ok()) {
    return Fail(absl::StrCat("--listen: ", s.message()));
  }
  if (absl::GetFlag(FLAGS_data_dir).empty()) return Fail("--data_dir is required");
  absl::StatusOr<std::unique_ptr<rocksdb::DB>> db =
      sync::OpenStateDb(absl::GetFlag(FLAGS_data_dir));
  if (!db.ok()) return Fail(std::string(db.status().message()));
  sync::RocksHashCache cache(db->get());
  sync::PeerCore core(slots, &cache, RealClock(), sync::NewInstanceId());
  sync::ReplicaPeerService service(&core);
  grpc::ServerBuilder builder;
  ConfigureServerBuilder(builder);
  int port = 0;
  if (absl::Status s = AddListeningPort(builder, listen, &port); !s.ok()) {
    return Fail(absl::StrCat("--listen: ", s.message()));
  }
  builder.RegisterService(&service);
  builder.SetMaxSendMessageSize(8 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return Fail(absl::StrCat("cannot listen on ", listen));
  }
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    std::ofstream(absl::GetFlag(FLAGS_port_file)) << port << "\n";
  }
  LogInfo("slotpeer", absl::StrCat("slotpeer: serving ", slots.size(), " slot(s) on port ", port,
                                   ", instance ", core.instance_id()));
  server->Wait();
  return 0;
}
