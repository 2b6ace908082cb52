// Transport security over real TLS on 127.0.0.1, with certificates that the
// test makes from throwaway CAs with tools/certs.sh: who gets in, what
// identity a call carries (base/peer_identity.h), which server names a
// client accepts, and rotated certificates reaching new connections.
#include "base/tls.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>
#include <stdio.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "base/peer_identity.h"

namespace slotkeeper {
namespace {

namespace fs = std::filesystem;

// Answers every call with the caller's identity (PeerIdentity).
class IdentityService : public grpc::CallbackGenericService {
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    class Reactor : public grpc::ServerGenericBidiReactor {
     public:
      explicit Reactor(const std::string& identity) {
        grpc::Slice slice(identity);
        response_ = grpc::ByteBuffer(&slice, 1);
        StartWrite(&response_);
      }
      void OnWriteDone(bool) override { Finish(grpc::Status::OK); }
      void OnDone() override { delete this; }

     private:
      grpc::ByteBuffer response_;
    };
    return new Reactor(PeerIdentity(*ctx));
  }
};

struct Served {
  IdentityService service;
  std::unique_ptr<grpc::Server> server;
  std::string address;
};

std::unique_ptr<Served> Serve(const TransportSecurity& security) {
  auto served = std::make_unique<Served>();
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      security.ServerCredentials("127.0.0.1:0");
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  if (!credentials.ok()) return nullptr;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", *credentials, &port);
  builder.RegisterCallbackGenericService(&served->service);
  served->server = builder.BuildAndStart();
  EXPECT_NE(port, 0);
  served->address = absl::StrCat("127.0.0.1:", port);
  return served;
}

// What one call on a new connection saw: the client's identity as the
// server verified it, or the call's error.
struct CallResult {
  grpc::Status status;
  std::string client_identity;  // as the server saw it
};

CallResult Call(const TransportSecurity& security, const std::string& address,
                const std::string& expected_identity = "") {
  grpc::ChannelArguments args;
  // A connection of its own: never one left open by an earlier channel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      security.ChannelCredentials(address, expected_identity, args);
  if (!credentials.ok()) {
    return {grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                         std::string(credentials.status().message())),
            ""};
  }
  grpc::GenericStub stub(grpc::CreateCustomChannel(address, *credentials, args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Slice ping("ping");
  grpc::ByteBuffer request(&ping, 1), response;
  CallResult result;
  absl::Notification done;
  stub.UnaryCall(&context, "/slotkeeper.test/Identity", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   result.status = s;
                   done.Notify();
                 });
  done.WaitForNotification();
  if (result.status.ok()) {
    grpc::Slice slice;
    EXPECT_TRUE(response.TrySingleSlice(&slice).ok() || response.Length() == 0);
    if (response.Length() > 0) {
      result.client_identity =
          std::string(reinterpret_cast<const char*>(slice.begin()), slice.size());
    }
  }
  return result;
}

std::string Certs() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  return absl::StrCat(srcdir == nullptr ? "." : srcdir, "/slotkeeper/tools/certs.sh");
}

void RunCerts(const std::string& args) {
  const std::string command = absl::StrCat(Certs(), " ", args, " >/dev/null");
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp == nullptr ? "/tmp" : tmp, "/tls_test");
    fs::remove_all(dir_);
    RunCerts(absl::StrCat(dir_, "/ca1 imap1 imap2"));
    RunCerts(absl::StrCat(dir_, "/ca2 --no-roles stranger"));
  }

  TlsFiles Files(const std::string& name, const std::string& ca = "ca1") const {
    return {absl::StrCat(dir_, "/", ca, "/ca.pem"), absl::StrCat(dir_, "/", ca, "/", name, ".pem"),
            absl::StrCat(dir_, "/", ca, "/", name, ".key")};
  }

  std::shared_ptr<TransportSecurity> Tls(const TlsFiles& files,
                                         absl::Duration refresh = absl::Minutes(1)) const {
    absl::StatusOr<std::shared_ptr<TransportSecurity>> s =
        TransportSecurity::MutualTls(files, refresh);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : TransportSecurity::InsecureLoopbackOnly();
  }

  // Puts `name`'s key and certificate of ca1 at `to`.pem / `to`.key, each
  // renamed into place.
  void Install(const std::string& name, const std::string& to) const {
    for (const char* ext : {".key", ".pem"}) {
      fs::copy_file(absl::StrCat(dir_, "/ca1/", name, ext), absl::StrCat(to, ext, ".new"),
                    fs::copy_options::overwrite_existing);
      fs::rename(absl::StrCat(to, ext, ".new"), absl::StrCat(to, ext));
    }
  }

  std::string dir_;
};

TEST(LoopbackTest, OnlyLoopbackAddressesAreLoopback) {
  for (const char* yes :
       {"127.0.0.1:7300", "127.3.4.5:1", "[::1]:7300", "localhost:7300", "127.0.0.1", "::1"}) {
    EXPECT_TRUE(IsLoopbackAddress(yes)) << yes;
  }
  for (const char* no : {"0.0.0.0:7300", "10.0.0.4:7300", "[::]:7300", "imap1:7300", "128.0.0.1:1",
                         "localhost.example.com:1", "[::ffff:127.0.0.1]:1", "127.1:1", ""}) {
    EXPECT_FALSE(IsLoopbackAddress(no)) << no;
  }
  absl::Status refused = CheckLoopbackAddress("0.0.0.0:7401");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("\"0.0.0.0:7401\""), absl::string_view::npos) << refused;
}

TEST_F(TlsTest, UnreadableOrWrongFilesAreRefusedNamingTheFile) {
  TlsFiles files = Files("imap1");
  files.key = dir_ + "/ca1/missing.key";
  absl::StatusOr<std::shared_ptr<TransportSecurity>> s = TransportSecurity::MutualTls(files);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("missing.key"), absl::string_view::npos) << s.status();

  files = Files("imap1");
  files.cert = files.key;  // a key where the certificate should be
  s = TransportSecurity::MutualTls(files);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("certificate file"), absl::string_view::npos) << s.status();
}

TEST_F(TlsTest, AHostCertificateProvesTheHostName) {
  auto server = Serve(*Tls(Files("slotmgr")));
  CallResult r = Call(*Tls(Files("imap1")), server->address, "slotmgr");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.client_identity, "imap1");
}

TEST_F(TlsTest, AnOperatorCertificateProvesTheOperator) {
  auto server = Serve(*Tls(Files("slotmgr")));
  CallResult r = Call(*Tls(Files("operator")), server->address, "slotmgr");
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.client_identity, "operator");
}

TEST_F(TlsTest, PlaintextCallsAreAnonymous) {
  auto plain = TransportSecurity::InsecureLoopbackOnly();
  auto server = Serve(*plain);
  CallResult r = Call(*plain, server->address);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.client_identity, "");
  EXPECT_EQ(DisplayIdentity(r.client_identity), "anonymous");
}

TEST_F(TlsTest, ClientsWithoutACertificateOfTheCaAreRefused) {
  auto server = Serve(*Tls(Files("slotmgr")));
  // Trusts the server's CA, but its own certificate is from another CA.
  TlsFiles foreign = Files("stranger", "ca2");
  foreign.ca = Files("slotmgr").ca;
  CallResult r = Call(*Tls(foreign), server->address, "slotmgr");
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE) << r.status.error_message();

  // No client certificate at all (server-authenticated TLS only).
  grpc::SslCredentialsOptions ssl;
  std::ifstream ca_in(Files("slotmgr").ca);
  ssl.pem_root_certs.assign(std::istreambuf_iterator<char>(ca_in), {});
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("slotmgr");
  grpc::GenericStub stub(
      grpc::CreateCustomChannel(server->address, grpc::SslCredentials(ssl), args));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Slice ping("ping");
  grpc::ByteBuffer request(&ping, 1), response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/slotkeeper.test/Identity", grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   status = s;
                   done.Notify();
                 });
  done.WaitForNotification();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();

  // Plaintext to a TLS port.
  CallResult plain = Call(*TransportSecurity::InsecureLoopbackOnly(), server->address);
  EXPECT_FALSE(plain.status.ok());
}

TEST_F(TlsTest, TheClientChecksTheServersName) {
  auto server = Serve(*Tls(Files("imap2")));
  auto client = Tls(Files("imap1"));
  EXPECT_TRUE(Call(*client, server->address, "imap2").status.ok());
  // A valid certificate of the CA, but not the one expected.
  CallResult wrong = Call(*client, server->address, "slotmgr");
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << wrong.status.error_message();
  // No name expected: the address dialled must be in the certificate
  // (host certificates carry IP:127.0.0.1, operator certificates do not).
  EXPECT_TRUE(Call(*client, server->address).status.ok());
  auto operator_server = Serve(*Tls(Files("operator")));
  EXPECT_FALSE(Call(*client, operator_server->address).status.ok());
  // A server from another CA is refused whatever it names.
  auto foreign_server = Serve(*Tls(Files("stranger", "ca2")));
  EXPECT_FALSE(Call(*client, foreign_server->address, "stranger").status.ok());
}

TEST_F(TlsTest, PlaintextRefusesNonLoopbackAddresses) {
  auto plain = TransportSecurity::InsecureLoopbackOnly();
  auto listen = plain->ServerCredentials("0.0.0.0:7401");
  EXPECT_EQ(listen.status().code(), absl::StatusCode::kFailedPrecondition);
  grpc::ChannelArguments args;
  auto dial = plain->ChannelCredentials("10.0.0.4:7401", "", args);
  EXPECT_EQ(dial.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(dial.status().message().find("10.0.0.4:7401"), absl::string_view::npos);
  // TLS listens anywhere.
  EXPECT_TRUE(Tls(Files("imap1"))->ServerCredentials("0.0.0.0:7401").ok());
}

// A server's rotated certificate reaches new connections through the file
// watcher, without a restart.
TEST_F(TlsTest, ARotatedServerCertificateIsUsedByNewConnections) {
  const std::string live = dir_ + "/live";
  Install("imap1", live);
  TlsFiles files = Files("imap1");
  files.cert = live + ".pem";
  files.key = live + ".key";
  auto server = Serve(*Tls(files, absl::Seconds(1)));
  auto client = Tls(Files("admin"));
  ASSERT_TRUE(Call(*client, server->address, "imap1").status.ok());
  ASSERT_FALSE(Call(*client, server->address, "imap2").status.ok());

  Install("imap2", live);
  // The watcher re-reads every second; allow a loaded machine a minute.
  const absl::Time give_up = absl::Now() + absl::Minutes(1);
  bool rotated = false;
  while (!rotated && absl::Now() < give_up) {
    rotated = Call(*client, server->address, "imap2").status.ok();
    if (!rotated) absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_TRUE(rotated) << "the server still presents imap1's certificate";
  EXPECT_FALSE(Call(*client, server->address, "imap1").status.ok());
}

// A client's rotated certificate is used by the next channel once Reload()
// (what SIGHUP calls) re-read the files, long before the next refresh.
TEST_F(TlsTest, ReloadMakesNewChannelsUseTheRotatedClientCertificate) {
  auto server = Serve(*Tls(Files("slotmgr")));
  const std::string live = dir_ + "/client";
  Install("viewer", live);
  TlsFiles files = Files("viewer");
  files.cert = live + ".pem";
  files.key = live + ".key";
  auto client = Tls(files, absl::Hours(1));
  EXPECT_EQ(Call(*client, server->address, "slotmgr").client_identity, "viewer");
  Install("admin", live);
  ASSERT_TRUE(client->Reload().ok());
  EXPECT_EQ(Call(*client, server->address, "slotmgr").client_identity, "admin");

  // A reload that cannot read the files keeps the old ones.
  fs::remove(live + ".key");
  EXPECT_FALSE(client->Reload().ok());
  EXPECT_EQ(Call(*client, server->address, "slotmgr").client_identity, "admin");
}

}  // namespace
}  // namespace slotkeeper
