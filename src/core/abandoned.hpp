// Work the host gave up on: a queue whose kernel never finished cannot be joined or freed
// without hanging or freeing memory still in use, so it is kept alive, reachable, until exit.
#pragma once
#include <memory>

namespace stagefence {

// Keeps `thing` alive for the rest of the process (never destroyed, not a leak to a checker).
void keep_forever(std::shared_ptr<void> thing);

}  // namespace stagefence
