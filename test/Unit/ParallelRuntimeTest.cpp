//===- ParallelRuntimeTest.cpp - libmoe_runtime's thread pool -------------===//
//
// The libomp entry points as generated code uses them: a region forked on
// the team, each thread taking its static block of a loop, or claiming
// chunks of a guided or dynamic loop.
//
//===----------------------------------------------------------------------===//

#include <gtest/gtest.h>

#include "moe/Runtime/Errors.h"

#include <atomic>
#include <csetjmp>
#include <cstdint>
#include <string>
#include <vector>

extern "C" {
void moe_runtime_set_num_threads(int n);
void __kmpc_fork_call(void *loc, int32_t argc,
                      void (*fn)(int32_t *, int32_t *, ...), ...);
void __kmpc_fork_call_if(void *loc, int32_t argc,
                         void (*fn)(int32_t *, int32_t *, ...), int32_t cond,
                         void *args);
void __kmpc_for_static_init_8u(void *loc, int32_t gtid, int32_t schedule,
                               int32_t *last, uint64_t *lower, uint64_t *upper,
                               int64_t *stride, int64_t incr, int64_t chunk);
void __kmpc_for_static_fini(void *loc, int32_t gtid);
void __kmpc_barrier(void *loc, int32_t gtid);
void __kmpc_dispatch_init_8u(void *loc, int32_t gtid, int32_t schedule,
                             uint64_t lb, uint64_t ub, int64_t st,
                             int64_t chunk);
int32_t __kmpc_dispatch_next_8u(void *loc, int32_t gtid, int32_t *last,
                                uint64_t *lower, uint64_t *upper,
                                int64_t *stride);
}

namespace {
struct Work {
  std::vector<int> *hits;
  std::atomic<int> *threads;
  std::atomic<int> *afterBarrier;
};

/// The outlined body of `for (i = 0; i < n; ++i) hits[i]++` followed by a
/// barrier, as the OpenMP translation shapes it.
void countingBody(int32_t *gtid, int32_t *btid, Work *work) {
  ++*work->threads;
  uint64_t lower = 0, upper = work->hits->size() - 1;
  int64_t stride = 1;
  int32_t last = 0;
  __kmpc_for_static_init_8u(nullptr, *gtid, 34, &last, &lower, &upper, &stride,
                            1, 0);
  // An empty block has upper = lower - 1: the count wraps to 0.
  uint64_t count = upper + 1 - lower;
  for (uint64_t i = 0; i < count; ++i)
    ++(*work->hits)[lower + i];
  __kmpc_for_static_fini(nullptr, *gtid);
  __kmpc_barrier(nullptr, *gtid);
  ++*work->afterBarrier;
}

TEST(ParallelRuntime, EveryIterationRunsOnceOnEveryTeamSize) {
  for (int threads : {1, 2, 3, 4}) {
    moe_runtime_set_num_threads(threads);
    // Fewer iterations than threads leaves some threads an empty block.
    for (size_t n : {1u, 5u, 1000u}) {
      std::vector<int> hits(n, 0);
      std::atomic<int> started{0}, passed{0};
      Work work{&hits, &started, &passed};
      __kmpc_fork_call(
          nullptr, 1,
          reinterpret_cast<void (*)(int32_t *, int32_t *, ...)>(countingBody),
          &work);
      EXPECT_EQ(started.load(), threads) << "team of " << threads;
      EXPECT_EQ(passed.load(), threads);
      for (size_t i = 0; i < n; ++i)
        ASSERT_EQ(hits[i], 1)
            << "iteration " << i << ", " << threads << " threads";
    }
  }
}
TEST(ParallelRuntime, IfClauseForksOnlyWhenTrue) {
  // With the condition false the region runs on the calling thread alone,
  // which then takes the whole loop; with it true, on the whole team.
  for (int threads : {1, 2, 3}) {
    moe_runtime_set_num_threads(threads);
    for (int32_t cond : {0, 1}) {
      std::vector<int> hits(100, 0);
      std::atomic<int> started{0}, passed{0};
      Work work{&hits, &started, &passed};
      __kmpc_fork_call_if(
          nullptr, 1,
          reinterpret_cast<void (*)(int32_t *, int32_t *, ...)>(countingBody),
          cond, &work);
      EXPECT_EQ(started.load(), cond ? threads : 1)
          << "team of " << threads << ", if(" << cond << ")";
      EXPECT_EQ(passed.load(), cond ? threads : 1);
      for (size_t i = 0; i < hits.size(); ++i)
        ASSERT_EQ(hits[i], 1) << "iteration " << i;
    }
  }
}

/// Rounds of: every thread marks its slot of round r, waits at a barrier,
/// then checks that every thread marked round r (none got ahead), and
/// waits again before the next round overwrites the marks.
struct Rounds {
  std::vector<std::atomic<int>> *marks;
  std::atomic<int> *mismatches;
  int rounds;
};

void roundsBody(int32_t *gtid, int32_t *btid, Rounds *work) {
  int team = static_cast<int>(work->marks->size());
  for (int r = 1; r <= work->rounds; ++r) {
    (*work->marks)[*gtid].store(r);
    __kmpc_barrier(nullptr, *gtid);
    for (int t = 0; t < team; ++t)
      if ((*work->marks)[t].load() != r)
        ++*work->mismatches;
    __kmpc_barrier(nullptr, *gtid);
  }
}

TEST(ParallelRuntime, BarrierHoldsEveryThreadUntilAllArrive) {
  for (int threads : {2, 3, 4}) {
    moe_runtime_set_num_threads(threads);
    std::vector<std::atomic<int>> marks(threads);
    std::atomic<int> mismatches{0};
    Rounds work{&marks, &mismatches, 300};
    __kmpc_fork_call(
        nullptr, 1,
        reinterpret_cast<void (*)(int32_t *, int32_t *, ...)>(roundsBody),
        &work);
    EXPECT_EQ(mismatches.load(), 0) << "team of " << threads;
    for (int t = 0; t < threads; ++t)
      EXPECT_EQ(marks[t].load(), 300);
  }
}

/// Several dispatched loops in one region, as the OpenMP translation emits
/// a guided (36) or dynamic (35) worksharing loop: bounds 1..n inclusive,
/// chunks claimed until none is left, then the loop's barrier.
struct Dispatched {
  std::vector<std::atomic<int>> *hits; // loops x n
  size_t n;
  int loops;
  int32_t schedule;
  int64_t chunk;
  std::atomic<int> *lastSeen;
};

void dispatchedBody(int32_t *gtid, int32_t *btid, Dispatched *work) {
  for (int loop = 0; loop < work->loops; ++loop) {
    __kmpc_dispatch_init_8u(nullptr, *gtid, work->schedule, 1, work->n, 1,
                            work->chunk);
    uint64_t lower = 0, upper = 0;
    int64_t stride = 0;
    int32_t last = 0;
    while (__kmpc_dispatch_next_8u(nullptr, *gtid, &last, &lower, &upper,
                                   &stride)) {
      for (uint64_t i = lower; i <= upper; ++i)
        ++(*work->hits)[loop * work->n + (i - 1)];
      if (last)
        ++*work->lastSeen;
    }
    __kmpc_barrier(nullptr, *gtid);
  }
}

TEST(ParallelRuntime, DispatchedLoopsHandOutEveryIterationOnce) {
  for (int threads : {1, 2, 3, 4})
    for (int32_t schedule : {36, 35, 35 | (1 << 30)})
      for (size_t n : {1u, 7u, 1000u}) {
        moe_runtime_set_num_threads(threads);
        const int loops = 5;
        std::vector<std::atomic<int>> hits(loops * n);
        std::atomic<int> lastSeen{0};
        Dispatched work{&hits, n, loops, schedule, 3, &lastSeen};
        __kmpc_fork_call(nullptr, 1,
                         reinterpret_cast<void (*)(int32_t *, int32_t *, ...)>(
                             dispatchedBody),
                         &work);
        for (size_t i = 0; i < hits.size(); ++i)
          ASSERT_EQ(hits[i].load(), 1)
              << "loop " << i / n << " iteration " << i % n << ", " << threads
              << " threads, schedule " << schedule;
        EXPECT_EQ(lastSeen.load(), loops) << "one chunk per loop is the last";
      }
}
/// Thread `failing` fails a check (as a cf.assert or an allocation in a
/// parallel loop body does); every other thread waits at two barriers.
struct Failing {
  int32_t failing;
  std::atomic<int> *passedBarriers;
};

void failingBody(int32_t *gtid, int32_t *btid, Failing *work) {
  if (*gtid == work->failing)
    moe_runtime_fail_with(MOE_RUNTIME_OUT_OF_MEMORY, "no memory for a tile");
  __kmpc_barrier(nullptr, *gtid);
  ++*work->passedBarriers;
  __kmpc_barrier(nullptr, *gtid);
}

/// The region under an entry point's handler: the failure's message, or
/// "" when the region returned.
std::string runFailing(Failing *work) {
  jmp_buf handler;
  if (setjmp(handler)) {
    moe_runtime_set_error_handler(nullptr);
    return moe_runtime_error_message();
  }
  moe_runtime_set_error_handler(&handler);
  __kmpc_fork_call(nullptr, 1,
                   reinterpret_cast<void (*)(int32_t *, int32_t *, ...)>(
                       failingBody),
                   work);
  moe_runtime_set_error_handler(nullptr);
  return "";
}

TEST(ParallelRuntime, FailureOnAnyTeamThreadReachesTheCaller) {
  // Before, a pool thread's failure aborted the process, and the forking
  // thread's unwound past the join, leaving the team at the barrier.
  for (int threads : {2, 4})
    for (int32_t failing = 0; failing < threads; ++failing) {
      moe_runtime_set_num_threads(threads);
      std::atomic<int> passed{0};
      Failing work{failing, &passed};
      EXPECT_EQ(runFailing(&work), "no memory for a tile")
          << "thread " << failing << " of " << threads;
      EXPECT_EQ(moe_runtime_error_kind(), MOE_RUNTIME_OUT_OF_MEMORY);
      EXPECT_EQ(passed.load(), 0) << "no thread passes the failed barrier";
    }
  // The pool works as before afterwards.
  moe_runtime_set_num_threads(4);
  std::atomic<int> passed{0};
  Failing none{-1, &passed};
  EXPECT_EQ(runFailing(&none), "");
  EXPECT_EQ(passed.load(), 4);
}
} // namespace
