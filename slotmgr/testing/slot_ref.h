// Test support (testonly): a SlotRef from its two names.
#ifndef SLOTKEEPER_SLOTMGR_TESTING_SLOT_REF_H_
#define SLOTKEEPER_SLOTMGR_TESTING_SLOT_REF_H_

#include <string>

#include "proto/model.pb.h"

namespace slotkeeper::slotmgr::testing {

inline v1::SlotRef Ref(const std::string& host, const std::string& slot) {
  v1::SlotRef r;
  r.set_host(host);
  r.set_slot(slot);
  return r;
}

}  // namespace slotkeeper::slotmgr::testing

#endif  // SLOTKEEPER_SLOTMGR_TESTING_SLOT_REF_H_
