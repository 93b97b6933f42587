// Stop sequences over streamed text: text is released only once no stop string could still
// begin in it, and a match cuts the answer just before the stop string (which is not sent).
#pragma once
#include <string>
#include <vector>

namespace stagefence::server {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

  // Adds generated text; returns the text now safe to send (may be empty).
  std::string push(const std::string& text);
  // Everything still held back, at the end of the generation (nothing after a match).
  std::string finish();
  bool matched() const { return matched_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool matched_ = false;
};

}  // namespace stagefence::server
