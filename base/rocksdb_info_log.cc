#include "base/rocksdb_info_log.h"

namespace slotkeeper {

void BoundInfoLog(const InfoLogLimits& limits, rocksdb::DBOptions& options) {
  options.keep_log_file_num = limits.keep_files;
  options.max_log_file_size = limits.max_file_bytes;
  options.log_file_time_to_roll = 0;
}

}  // namespace slotkeeper
