// The per-dispatch work shared by CommandEncoder::dispatch and the replay compiler: validate the
// bindings and scalars, build KernelArgs and the hazard ranges, resolve the launch.
#pragma once
#include <cstddef>
#include <optional>

#include "core/command_buffer.hpp"
#include "core/device_core.hpp"
#include "core/hazard_tracker.hpp"
#include "stagefence/buffer.hpp"
#include "stagefence/kernel.hpp"

namespace stagefence {

// Fills rec.kernel, rec.def, rec.args and (with resolve_launch) rec.launch of `rec`, which the
// caller zero-initialised, and the hazard range of each binding into `acc`. Raises what
// dispatch() documents: InvalidArgument/OutOfRange for bad bindings or counts, Unsupported when
// the kernel has no implementation for `kind`, InvalidArgument for an empty grid. Without
// resolve_launch (capture) the launch is neither resolved nor checked.
void resolve_dispatch(const DeviceCore& device, BackendKind kind, KernelId kernel,
                      const Binding* bindings, size_t num_bindings, const Scalar* scalars,
                      size_t num_scalars, const std::optional<Launch>& launch, bool resolve_launch,
                      DispatchRecord& rec, RangeAccess* acc);

}  // namespace stagefence
