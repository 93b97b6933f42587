// Temporary entry point until the CLI lands.
#include <cstdio>

#include "stagefence/stagefence.hpp"

int main() {
  auto dev = stagefence::Device::open();
  std::printf("%s\n", dev.info().name.c_str());
  return 0;
}
