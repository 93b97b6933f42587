// `stagefence doctor`: names every environment flag with its default and current value, reports
// the backend and the GPU situation plainly, and prints the same as JSON with --json.
#include "../../app/doctor.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "scoped_env.hpp"
#include "stagefence/device.hpp"
#include "stagefence/env.hpp"

namespace sf = stagefence;
using JsonValue = nlohmann::json;

namespace {

struct DoctorRun {
  int rc;
  std::string out, err;
};

DoctorRun doctor(std::vector<std::string> args) {
  args.insert(args.begin(), "doctor");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  const int rc = run_doctor(static_cast<int>(argv.size()), argv.data(), out, err);
  return {rc, out.str(), err.str()};
}

TEST(Doctor, TextNamesEveryFlagWithDefaultAndCurrentValue) {
  const DoctorRun r = [] {
    sftest::ScopedEnv timestamps("STAGEFENCE_TIMESTAMPS", "on");
    return doctor({});
  }();
  ASSERT_EQ(r.rc, 0) << r.err;
  const auto flags = sf::env::all_flags();
  ASSERT_GE(flags.size(), 11u);
  for (const auto& f : flags) {
    const size_t at = r.out.find(f.name);
    ASSERT_NE(at, std::string::npos) << f.name << " missing from:\n" << r.out;
    const std::string row = r.out.substr(at, r.out.find('\n', at) - at);
    EXPECT_NE(row.find("default " + f.default_value), std::string::npos) << row;
    const std::string current = f.name == "STAGEFENCE_TIMESTAMPS" ? "on" : f.current;
    EXPECT_NE(row.find("current " + current), std::string::npos) << row;
  }
  for (const char* section : {"Backend", "GPU", "CPU", "Runtime settings", "Environment flags"})
    EXPECT_NE(r.out.find(section), std::string::npos) << section;
  const sf::DeviceInfo info = sf::Device::open().info();
  EXPECT_NE(r.out.find(info.backend_reason), std::string::npos);
  // The GPU section says plainly whether a GPU is used, present but unused, or absent.
  const size_t gpu = r.out.find("\nGPU\n");
  ASSERT_NE(gpu, std::string::npos);
  const size_t status = r.out.find("  status", gpu);
  ASSERT_NE(status, std::string::npos);
  const std::string status_line = r.out.substr(status, r.out.find('\n', status) - status);
  if (info.backend == sf::BackendKind::Cuda)
    EXPECT_NE(status_line.find("in use"), std::string::npos) << status_line;
  else
    EXPECT_TRUE(status_line.find("none") != std::string::npos ||
                status_line.find("present, not used") != std::string::npos)
        << status_line;
}

TEST(Doctor, JsonCarriesTheSameFindings) {
  const DoctorRun r = [] {
    sftest::ScopedEnv serial("STAGEFENCE_FORCE_SERIAL", "1");
    return doctor({"--json"});
  }();
  ASSERT_EQ(r.rc, 0) << r.err;
  const JsonValue doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc.at("schema").get_ref<const std::string&>(), "stagefence.doctor/1");

  const sf::DeviceInfo info = sf::Device::open().info();
  const JsonValue& dev = doc.at("device");
  EXPECT_EQ(dev.at("backend").get_ref<const std::string&>(), sf::backend_name(info.backend));
  EXPECT_EQ(dev.at("backend_reason").get_ref<const std::string&>(), info.backend_reason);
  EXPECT_EQ(dev.at("fence_kind").get_ref<const std::string&>(), info.fence_kind);
  const std::string status = doc.at("gpu").at("status").get_ref<const std::string&>();
  EXPECT_TRUE(status == "in use" || status == "present, not used" || status == "none") << status;
  EXPECT_EQ(status == "in use", info.backend == sf::BackendKind::Cuda);
  if (status == "none") {
    EXPECT_TRUE(doc.at("gpu").at("device").is_null());
    EXPECT_FALSE(doc.at("gpu").at("note").get_ref<const std::string&>().empty());
  }
  EXPECT_GE(doc.at("cpu").at("device").at("cpu_workers").get<double>(), 1);
  EXPECT_TRUE(doc.at("settings").at("force_serial").get<bool>());

  std::set<std::string> reported;
  for (const JsonValue& f : doc.at("flags")) {
    reported.insert(f.at("name").get_ref<const std::string&>());
    EXPECT_FALSE(f.at("default").get_ref<const std::string&>().empty());
    EXPECT_FALSE(f.at("meaning").get_ref<const std::string&>().empty());
    if (f.at("name").get_ref<const std::string&>() == "STAGEFENCE_FORCE_SERIAL") {
      EXPECT_EQ(f.at("current").get_ref<const std::string&>(), "1");
      EXPECT_TRUE(f.at("set").get<bool>());
    }
  }
  for (const auto& f : sf::env::all_flags()) EXPECT_TRUE(reported.count(f.name)) << f.name;
  EXPECT_EQ(reported.size(), sf::env::all_flags().size());
}

TEST(Doctor, UnknownOptionIsAUsageError) {
  const DoctorRun r = doctor({"--frobnicate"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("--frobnicate"), std::string::npos);
  EXPECT_TRUE(r.out.empty());
}

TEST(Doctor, ReportsAnUnopenableDefaultDeviceAndStillTheCpuSide) {
  const DoctorRun r = [] {
    sftest::ScopedEnv backend("STAGEFENCE_BACKEND", "tpu");
    return doctor({"--json"});
  }();
  EXPECT_EQ(r.rc, 1);
  const JsonValue doc = nlohmann::json::parse(r.out);
  EXPECT_TRUE(doc.at("device").is_null());
  EXPECT_NE(doc.at("device_error").get_ref<const std::string&>().find("tpu"), std::string::npos);
  EXPECT_EQ(doc.at("cpu").at("device").at("backend").get_ref<const std::string&>(), "cpu");
}

}  // namespace
