// The CPU backend's worker pool: every part of a parallel job runs exactly once whatever the
// thread count, concurrent callers both finish, and a refused thread start is a clear error
// (not std::terminate) after the helpers already started are joined.
#include "cpu/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "stagefence/error.hpp"

namespace {

using stagefence::cpu::WorkerPool;

TEST(WorkerPool, EveryPartRunsExactlyOnce) {
  for (int workers : {1, 2, 3, 5}) {
    WorkerPool pool(workers);
    EXPECT_EQ(pool.size(), workers);
    for (uint32_t count : {1u, 2u, 7u, 1000u, 70000u}) {
      std::vector<std::atomic<int>> hits(count);
      pool.parallel_for(count, [&](uint32_t i) { hits[i].fetch_add(1); });
      for (uint32_t i = 0; i < count; ++i)
        ASSERT_EQ(hits[i].load(), 1) << workers << " workers, " << count << " parts, part " << i;
    }
  }
}

TEST(WorkerPool, TwoCallersAtOnceBothFinish) {
  WorkerPool pool(3);
  std::atomic<int64_t> sum{0};
  auto caller = [&] {
    for (int r = 0; r < 200; ++r) pool.parallel_for(16, [&](uint32_t i) { sum += i + 1; });
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  EXPECT_EQ(sum.load(), 2 * 200 * (16 * 17 / 2));
}

TEST(WorkerPool, RefusedThreadStartIsAClearErrorAndJoinsTheStartedOnes) {
  int started = 0;
  auto start = [&](std::function<void()> body) {
    if (started == 2) throw std::system_error(EAGAIN, std::generic_category(), "pthread_create");
    ++started;
    return std::thread(std::move(body));
  };
  try {
    WorkerPool pool(6, start);
    FAIL() << "the pool started although thread creation failed";
  } catch (const stagefence::Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(e.code(), stagefence::ErrorCode::Io);
    EXPECT_NE(what.find("CPU worker thread 4 of 6"), std::string::npos) << what;
    EXPECT_NE(what.find("ulimit -u"), std::string::npos) << what;
    EXPECT_NE(what.find("STAGEFENCE_CPU_WORKERS"), std::string::npos) << what;
  }
  EXPECT_EQ(started, 2);  // and both were joined: a joinable std::thread destroyed would abort
}

}  // namespace
