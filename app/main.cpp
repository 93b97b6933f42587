// The stagefence command line; everything but dispatch lives in stagefence_cli_core.
#include "cli_app.hpp"

int main(int argc, char** argv) {
  return stagefence::cli::run_cli(argc, argv);
}
