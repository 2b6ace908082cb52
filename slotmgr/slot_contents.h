// What an agent found on disk in one of its slots (the SlotContents of its
// inventory), taken into the model when it registers.
//
// A user's store is where mail clients are sent, so the user index only
// grows from what agents report: a user already assigned to another store is
// never moved (a stray or planted directory on another store's slot would
// otherwise redirect the user's mail); such users are named once, in a
// warning. A copy of a store the coordinator does not know on that slot (a
// coordinator rebuilt from nothing, mail copied in by hand) is adopted as a
// replica, unless the store already has all its copies: then the slot is
// marked as holding an unadopted copy and kept out of placement, so
// automation never overwrites that data. A slot the coordinator assigned to
// another store keeps its assignment (a one-time warning says what the disk
// holds). What a lost slot holds is not trusted again.
#ifndef SLOTKEEPER_SLOTMGR_SLOT_CONTENTS_H_
#define SLOTKEEPER_SLOTMGR_SLOT_CONTENTS_H_

#include <string>

#include "proto/model.pb.h"
#include "slotmgr/mutation.h"

namespace slotkeeper::slotmgr {

// Applies `contents` of a slot of `host` to the model and the user index
// (`m.users`, which must be set), noting and journaling what changed in
// `m.txn`. A slot the model does not hold is ignored.
void RecognizeContents(Mutation& m, const std::string& host, const v1::SlotContents& contents);

}  // namespace slotkeeper::slotmgr

#endif  // SLOTKEEPER_SLOTMGR_SLOT_CONTENTS_H_
