// `stagefence doctor`: which backend this machine gets and why, what the GPU (if any) offers,
// the CPU side, and every environment flag with its default and current value.
#pragma once
#include <ostream>

// argv[0] is the subcommand's name ("doctor"); the options follow: --json prints one JSON object
// instead of text, --help prints usage. Returns 0, 1 when no device could be opened, 2 on a
// usage error.
int run_doctor(int argc, char** argv);
// The same, writing the report to `out` and usage errors to `err`.
int run_doctor(int argc, char** argv, std::ostream& out, std::ostream& err);
