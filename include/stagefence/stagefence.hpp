// Umbrella header.
#pragma once
#include "stagefence/buffer.hpp"
#include "stagefence/capture.hpp"
#include "stagefence/command_encoder.hpp"
#include "stagefence/counters.hpp"
#include "stagefence/device.hpp"
#include "stagefence/dtype.hpp"
#include "stagefence/encoder_session.hpp"
#include "stagefence/env.hpp"
#include "stagefence/error.hpp"
#include "stagefence/fence.hpp"
#include "stagefence/kernel.hpp"
#include "stagefence/residency_set.hpp"
