#include "core/abandoned.hpp"

#include <mutex>
#include <vector>

namespace stagefence {

void keep_forever(std::shared_ptr<void> thing) {
  static std::mutex* mu = new std::mutex;
  static auto* kept = new std::vector<std::shared_ptr<void>>;
  std::lock_guard<std::mutex> lock(*mu);
  kept->push_back(std::move(thing));
}

}  // namespace stagefence
