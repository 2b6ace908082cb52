#include "tools/slotroute/dict_protocol.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace slotkeeper::slotroute {
namespace {

using ::testing::HasSubstr;

TEST(DictProtocolTest, ParsesWhatDovecot23Sends) {
  // As Dovecot 2.3.19's dict client sends them (seen on the wire).
  absl::StatusOr<DictCommand> hello = ParseDictCommand("H3\t2\t0\t\tslotroute");
  ASSERT_TRUE(hello.ok()) << hello.status();
  EXPECT_EQ(hello->kind, DictCommand::Kind::kHello);
  EXPECT_EQ(hello->dict, "slotroute");
  absl::StatusOr<DictCommand> lookup = ParseDictCommand("Lshared/passdb/imap/alice\talice");
  ASSERT_TRUE(lookup.ok()) << lookup.status();
  EXPECT_EQ(lookup->kind, DictCommand::Kind::kLookup);
  EXPECT_EQ(lookup->key, "shared/passdb/imap/alice");
}

TEST(DictProtocolTest, RefusesOtherVersionsCommandsAndGarbage) {
  EXPECT_THAT(ParseDictCommand("H2\t0\t0\t\td").status().message(), HasSubstr("version 2"));
  EXPECT_FALSE(ParseDictCommand("H3").ok());
  EXPECT_FALSE(ParseDictCommand("").ok());
  EXPECT_FALSE(ParseDictCommand("L").ok());
  EXPECT_TRUE(absl::IsUnimplemented(ParseDictCommand("Ishared/x\t0").status()));
  EXPECT_TRUE(absl::IsUnimplemented(ParseDictCommand("S1\tshared/x\tv").status()));
  EXPECT_THAT(ParseDictCommand("Zx").status().message(), HasSubstr("unknown dict command"));
  EXPECT_FALSE(ParseDictCommand("Lshared/passdb/imap/a\001").ok());  // escape at the end
  EXPECT_FALSE(ParseDictCommand(std::string(kMaxDictLine + 1, 'L')).ok());
}

TEST(DictProtocolTest, TabEscapingRoundTrips) {
  const std::string text = std::string("a\tb\nc\rd\001e") + '\0' + "f";
  EXPECT_EQ(TabEscape(text).find_first_of("\t\n\r"), std::string::npos);
  EXPECT_EQ(*TabUnescape(TabEscape(text)), text);
}

TEST(DictProtocolTest, PassdbKeysFollowTheNameRule) {
  absl::StatusOr<PassdbKey> k = ParsePassdbKey("shared/passdb/lmtp/st1-user3");
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(k->service, "lmtp");
  EXPECT_EQ(k->user, "st1-user3");
  EXPECT_THAT(ParsePassdbKey("priv/passdb/imap/a").status().message(), HasSubstr("shared/passdb/"));
  EXPECT_THAT(ParsePassdbKey("shared/passdb/pop3/a").status().message(),
              HasSubstr("neither imap nor lmtp"));
  EXPECT_FALSE(ParsePassdbKey("shared/passdb/imap").ok());
  EXPECT_FALSE(ParsePassdbKey("shared/passdb/imap/").ok());
  EXPECT_FALSE(ParsePassdbKey("shared/passdb/imap/a/b").ok());  // '/' in a name
  EXPECT_FALSE(ParsePassdbKey("shared/passdb/imap/.hidden").ok());
  EXPECT_FALSE(ParsePassdbKey("shared/passdb/imap/a b").ok());
  EXPECT_FALSE(ParsePassdbKey("shared/passdb/imap/" + std::string(300, 'a')).ok());
}

TEST(DictProtocolTest, RepliesAreOneLineEach) {
  EXPECT_EQ(FoundReply({{"host", "127.0.0.1"}, {"port", "143"}}),
            "O{\"host\":\"127.0.0.1\",\"port\":\"143\"}\n");
  EXPECT_EQ(FoundReply({{"x", "a\"b\n"}}), "O{\"x\":\"a\\\"b\\u000a\"}\n");
  EXPECT_EQ(NotFoundReply(), "N\n");
  EXPECT_EQ(FailedReply("no master\tnow\n"), "Fno master\001tnow\001n\n");
}

}  // namespace
}  // namespace slotkeeper::slotroute
