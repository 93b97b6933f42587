// The stagefence command line: generate (the default), chat, serve, doctor. Parsing and
// validation of every option happen here, before any subcommand opens a device.
#pragma once

namespace stagefence::cli {

// Returns the process exit status: 0, 1 on a runtime failure, 2 on bad input (the error names
// the flag, its value and what is allowed), 128 + signal when interrupted.
int run_cli(int argc, char** argv);

}  // namespace stagefence::cli
