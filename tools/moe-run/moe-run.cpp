//===- moe-run.cpp - run a compiled model on .npy inputs ------------------===//
//
// Loads a shared library written by `moe-opt --emit=shared`, checks the
// inputs against the model's signature (the library's entry point does), runs
// it and writes or summarizes the outputs. It depends only on the model ABI
// (include/moe/Runtime/ModelABI.h), not on the compiler.
//
//===----------------------------------------------------------------------===//

#include "AsyncCalls.h"
#include "Npy.h"
#include "moe/Version.h"

#include "llvm/Config/llvm-config.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <unistd.h>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace moe_run;

namespace {
const char *kUsage =
    "usage: moe-run LIB --input X.npy [--input ...] [--output Y.npy ...]\n"
    "               [--device cpu|cuda|cuda-emulator] [--threads N]\n"
    "               [--benchmark N] [--async] [--weights FILE] [--version]\n"
    "\n"
    "Runs a model compiled by `moe-opt --moe-cpu-pipeline --emit=shared`\n"
    "(--device cpu, the default) or `--moe-cuda-pipeline` (--device cuda).\n"
    "--device cuda-emulator runs a CUDA model's kernels on this CPU under\n"
    "the CUDA emulator, which checks every memory access, shared-memory\n"
    "races and barriers and reports failures with kernel, block and thread.\n"
    "Inputs are .npy files in the model's input order (f32, f16, i32, i64,\n"
    "bool; bfloat16 as raw uint16). Without --output, prints each output's\n"
    "shape, type and first values. --threads N sets the model's thread count\n"
    "(default: the online CPUs). --benchmark N times N runs after warm-up\n"
    "and ends with 'median_ms: X' (wall time of a call); on cuda it also\n"
    "prints 'device_median_ms: X', the kernels' time from CUDA events.\n"
    "--async (cuda) calls moe_model_run_async as an application holding\n"
    "device tensors does: inputs copied to device buffers once, outputs in\n"
    "device buffers, work on a stream of moe-run's own, a stream\n"
    "synchronization and moe_model_async_status after each call; with\n"
    "--benchmark it also prints 'queued_ms_per_call: X' (N calls queued,\n"
    "then one synchronization; CUDA graphs replay the calls after the\n"
    "second, unless MOE_CUDA_GRAPHS=0).\n"
    "--weights FILE maps a model's weights file from FILE instead of from\n"
    "beside the library (models compiled with external weights); the\n"
    "weights load before the first run, and 'load_ms: X' reports it with\n"
    "--benchmark.\n"
    "\n"
    "Expert-parallel models (compiled with --moe-cpu-pipeline=\"ranks=N\n"
    "rank=R\", one library per rank) run under an MPI launcher:\n"
    "  mpirun -np N moe-run model.rank{rank}.so --input x{rank}.npy ...\n"
    "'{rank}' in any path becomes the process's rank (from the launcher's\n"
    "OMPI_COMM_WORLD_RANK, PMIX_RANK or PMI_RANK; 0 without a launcher).\n";

/// The MPI rank the launcher gave this process, or -1 without a launcher.
int launcherRank() {
  for (const char *name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (const char *v = std::getenv(name))
      return std::atoi(v);
  return -1;
}

/// `path` with every '{rank}' replaced by this process's rank.
std::string forRank(std::string path) {
  std::string rank = std::to_string(std::max(launcherRank(), 0));
  for (size_t at = path.find("{rank}"); at != std::string::npos;
       at = path.find("{rank}", at + rank.size()))
    path.replace(at, 6, rank);
  return path;
}

int fail(const std::string &message) {
  if (int rank = launcherRank(); rank >= 0)
    std::fprintf(stderr, "moe-run[rank %d]: %s\n", rank, message.c_str());
  else
    std::fprintf(stderr, "moe-run: %s\n", message.c_str());
  return EXIT_FAILURE;
}

using InfoFn = const moe_model_info *(*)();
using RunFn = int (*)(const moe_tensor *, int32_t, moe_tensor *, int32_t,
                      char *, size_t);

std::string shapeString(const int64_t *shape, int32_t rank) {
  std::string s = "[";
  for (int32_t d = 0; d < rank; ++d)
    s += std::to_string(shape[d]) + (d + 1 < rank ? ", " : "");
  return s + "]";
}

double asDouble(const moe_tensor &t, int64_t i) {
  const char *p = static_cast<const char *>(t.data);
  switch (t.dtype) {
  case MOE_DTYPE_F32: {
    float v;
    std::memcpy(&v, p + i * 4, 4);
    return v;
  }
  case MOE_DTYPE_F16: {
    uint16_t h;
    std::memcpy(&h, p + i * 2, 2);
    int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    double v = exp == 0    ? std::ldexp(mant, -24)
               : exp == 31 ? (mant ? NAN : INFINITY)
                           : std::ldexp(mant + 1024, exp - 25);
    return (h & 0x8000) ? -v : v;
  }
  case MOE_DTYPE_BF16: {
    uint16_t h;
    std::memcpy(&h, p + i * 2, 2);
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
  }
  case MOE_DTYPE_I32: {
    int32_t v;
    std::memcpy(&v, p + i * 4, 4);
    return v;
  }
  case MOE_DTYPE_I64: {
    int64_t v;
    std::memcpy(&v, p + i * 8, 8);
    return static_cast<double>(v);
  }
  case MOE_DTYPE_BOOL:
    return p[i] ? 1 : 0;
  case MOE_DTYPE_I8:
    return static_cast<int8_t>(p[i]);
  case MOE_DTYPE_I16: {
    int16_t v;
    std::memcpy(&v, p + i * 2, 2);
    return v;
  }
  }
  return 0;
}
} // namespace

namespace {
struct Options {
  std::string library, device = "cpu", weights;
  std::vector<std::string> inputs, outputs;
  long benchmark = 0, threads = 0;
  bool async = false;
};

/// Reads the command line into `o`; an exit status when main should stop.
std::optional<int> parseArgs(int argc, char **argv, Options &o) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const char *name) -> const char * {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "moe-run: %s needs a value\n", name);
        std::exit(EXIT_FAILURE);
      }
      return argv[++i];
    };
    auto count = [&](const char *name, long lo, long hi, const char *what,
                     long &out) -> bool {
      char *end = nullptr;
      const char *v = value(name);
      out = std::strtol(v, &end, 10);
      if (!*end && out >= lo && out <= hi)
        return true;
      fail(std::string(name) + " needs " + what + ", got '" + v + "'");
      return false;
    };
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return EXIT_SUCCESS;
    } else if (arg == "--version") {
      std::printf("moe-run " MOE_VERSION " (git " MOE_GIT_HASH
                  "), built with LLVM " LLVM_VERSION_STRING "\n");
      return EXIT_SUCCESS;
    } else if (arg == "--input") {
      o.inputs.push_back(forRank(value("--input")));
    } else if (arg == "--output") {
      o.outputs.push_back(forRank(value("--output")));
    } else if (arg == "--async") {
      o.async = true;
    } else if (arg == "--device") {
      o.device = value("--device");
    } else if (arg == "--weights") {
      o.weights = forRank(value("--weights"));
    } else if (arg == "--threads") {
      if (!count("--threads", 1, 256, "a count in [1, 256]", o.threads))
        return EXIT_FAILURE;
    } else if (arg == "--benchmark") {
      if (!count("--benchmark", 1, LONG_MAX, "a positive count", o.benchmark))
        return EXIT_FAILURE;
    } else if (!arg.empty() && arg[0] == '-') {
      return fail("unknown option '" + arg + "'\n" + kUsage);
    } else if (o.library.empty()) {
      o.library = forRank(arg);
    } else {
      return fail("unexpected argument '" + arg + "'");
    }
  }
  if (o.library.empty())
    return fail(std::string("no model library given\n") + kUsage);
  if (o.device == "cuda-emulator") {
    // The emulator is a CUDA driver library installed beside this tool.
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    std::string path;
    if (n > 0) {
      path.assign(self, static_cast<size_t>(n));
      path = path.substr(0, path.find_last_of('/') + 1) +
             "../lib/libmoe_cuda_emulator.so";
    }
    if (path.empty() || access(path.c_str(), R_OK) != 0)
      return fail("the CUDA emulator library libmoe_cuda_emulator.so is not "
                  "installed beside moe-run (expected '" + path + "')");
    setenv("MOE_CUDA_DRIVER", path.c_str(), 1);
    o.device = "cuda";
  }
  if (o.device != "cpu" && o.device != "cuda")
    return fail("unknown device '" + o.device +
                "' (expected cpu, cuda or cuda-emulator)");
  if (o.async && o.device != "cuda")
    return fail("--async needs --device cuda or cuda-emulator");
  return std::nullopt;
}

struct LoadedModel {
  void *handle = nullptr;
  RunFn run = nullptr;
  const moe_model_info *info = nullptr;
  double weightsLoadMs = 0; // mapping and checking the weights file
};

/// Opens the library and checks that it is a model for `o.device`; sets
/// its thread count.
std::optional<int> loadModel(Options &o, LoadedModel &m) {
  // A path without '/' would make dlopen search the library path.
  if (o.library.find('/') == std::string::npos)
    o.library = "./" + o.library;
  const std::string &library = o.library;
  m.handle = dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!m.handle)
    return fail(std::string("cannot load '") + library + "': " + dlerror());
  auto info = reinterpret_cast<InfoFn>(dlsym(m.handle, "moe_model_get_info"));
  m.run = reinterpret_cast<RunFn>(dlsym(m.handle, "moe_model_run"));
  if (!info || !m.run)
    return fail("'" + library +
                "' is not a compiled model (no moe_model_run; compile with "
                "moe-opt --moe-cpu-pipeline --emit=shared)");
  // Models say which device they were compiled for (older ones: cpu).
  using DeviceFn = const char *(*)();
  auto deviceOf =
      reinterpret_cast<DeviceFn>(dlsym(m.handle, "moe_model_device"));
  std::string compiledFor = deviceOf ? deviceOf() : "cpu";
  if (compiledFor != o.device)
    return fail("'" + library + "' was compiled for " + compiledFor +
                ", not for " + o.device + " (use --device " + compiledFor +
                ", or compile with --moe-" + o.device + "-pipeline)");
  m.info = info();
  if (o.threads) {
    using ThreadsFn = void (*)(int32_t);
    auto setThreads = reinterpret_cast<ThreadsFn>(
        dlsym(m.handle, "moe_model_set_num_threads"));
    if (!setThreads)
      return fail("'" + library + "' cannot set its thread count");
    setThreads(static_cast<int32_t>(o.threads));
  }
  // Weights files load here, not in the first run: a refused file is
  // reported before the inputs are read, and the mapping is timed alone.
  char error[1024] = "";
  if (!o.weights.empty()) {
    using SetWeightsFn = int (*)(const char *, char *, size_t);
    auto setWeights = reinterpret_cast<SetWeightsFn>(
        dlsym(m.handle, "moe_model_set_weights_path"));
    if (!setWeights)
      return fail("'" + library + "' takes no weights file (compiled by an "
                  "older moe-opt)");
    if (setWeights(o.weights.c_str(), error, sizeof(error)) != MOE_OK)
      return fail(error);
  }
  using LoadWeightsFn = int (*)(char *, size_t);
  if (auto loadWeights = reinterpret_cast<LoadWeightsFn>(
          dlsym(m.handle, "moe_model_load_weights"))) {
    auto start = std::chrono::steady_clock::now();
    if (loadWeights(error, sizeof(error)) != MOE_OK)
      return fail(error);
    m.weightsLoadMs = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count();
  }
  return std::nullopt;
}

/// The .npy inputs as the model's tensors (`data` owns the bytes).
std::optional<int> readInputs(const Options &o, const moe_model_info *model,
                              std::vector<NpyTensor> &data,
                              std::vector<moe_tensor> &args) {
  if (static_cast<int32_t>(o.inputs.size()) != model->num_inputs) {
    std::string names;
    for (int32_t i = 0; i < model->num_inputs; ++i)
      names += std::string(i ? ", " : "") + model->inputs[i].name;
    return fail("the model takes " + std::to_string(model->num_inputs) +
                " inputs (" + names + "), got " +
                std::to_string(o.inputs.size()));
  }
  if (!o.outputs.empty() &&
      static_cast<int32_t>(o.outputs.size()) != model->num_outputs)
    return fail("the model has " + std::to_string(model->num_outputs) +
                " outputs, got " + std::to_string(o.outputs.size()) +
                " --output files");
  data.resize(o.inputs.size());
  args.resize(o.inputs.size());
  for (size_t i = 0; i < o.inputs.size(); ++i) {
    std::string error;
    if (!readNpy(o.inputs[i], model->inputs[i].dtype, data[i], error))
      return fail(error);
    args[i].data = data[i].data.data();
    args[i].dtype = data[i].dtype;
    args[i].rank = static_cast<int32_t>(data[i].shape.size());
    for (size_t d = 0; d < data[i].shape.size(); ++d)
      args[i].shape[d] = data[i].shape[d];
  }
  return std::nullopt;
}

/// --benchmark: 3 warm-up runs (the first timed alone: it touches the
/// weights first), then the timed ones; prints the figures.
void benchmark(const Options &o, const LoadedModel &m,
               const std::function<bool()> &runOnce) {
  void *handle = m.handle;
  auto firstStart = std::chrono::steady_clock::now();
  runOnce();
  double firstMs = std::chrono::duration<double, std::milli>(
                       std::chrono::steady_clock::now() - firstStart)
                       .count();
  for (int i = 0; i < 2; ++i)
    runOnce();
  using DeviceMsFn = double (*)();
  auto deviceMs = o.device == "cuda" ? reinterpret_cast<DeviceMsFn>(dlsym(
                                           handle, "moe_model_last_device_ms"))
                                     : nullptr;
  std::vector<double> times, deviceTimes;
  for (long i = 0; i < o.benchmark; ++i) {
    auto start = std::chrono::steady_clock::now();
    runOnce();
    times.push_back(std::chrono::duration<double, std::milli>(
                        std::chrono::steady_clock::now() - start)
                        .count());
    if (deviceMs)
      deviceTimes.push_back(deviceMs());
  }
  std::sort(times.begin(), times.end());
  std::sort(deviceTimes.begin(), deviceTimes.end());
  std::printf("runs: %ld\n", o.benchmark);
  std::printf("weights_load_ms: %.4f\nfirst_run_ms: %.4f\n", m.weightsLoadMs,
              firstMs);
  // The kernels alone, timed with CUDA events (without the input and
  // output copies the entry point makes).
  if (!deviceTimes.empty())
    std::printf("device_median_ms: %.4f\n",
                deviceTimes[deviceTimes.size() / 2]);
  std::printf("min_ms: %.4f\nmax_ms: %.4f\nmedian_ms: %.4f\n", times.front(),
              times.back(), times[times.size() / 2]);
}

/// Each output to its --output file, or a summary line on stdout.
int writeOutputs(const Options &o, const moe_model_info *model,
                 const std::vector<moe_tensor> &results) {
  for (int32_t i = 0; i < model->num_outputs; ++i) {
    const moe_tensor &r = results[i];
    if (!o.outputs.empty()) {
      std::string e;
      if (!writeNpy(o.outputs[i], r, e))
        return fail(e);
      continue;
    }
    int64_t count = 1;
    for (int32_t d = 0; d < r.rank; ++d)
      count *= r.shape[d];
    std::printf("%s: %s %s =", model->outputs[i].name, dtypeName(r.dtype),
                shapeString(r.shape, r.rank).c_str());
    for (int64_t j = 0; j < std::min<int64_t>(count, 8); ++j) {
      // Integers exactly (i64 through a double would round past 2^53).
      if (r.dtype == MOE_DTYPE_I64) {
        int64_t v;
        std::memcpy(&v, static_cast<const char *>(r.data) + j * 8, 8);
        std::printf(" %lld", static_cast<long long>(v));
      } else if (r.dtype == MOE_DTYPE_I32 || r.dtype == MOE_DTYPE_I16 ||
                 r.dtype == MOE_DTYPE_I8 || r.dtype == MOE_DTYPE_BOOL) {
        std::printf(" %lld", static_cast<long long>(asDouble(r, j)));
      } else {
        std::printf(" %.6g", asDouble(r, j));
      }
    }
    std::printf("%s\n", count > 8 ? " ..." : "");
  }
  return EXIT_SUCCESS;
}
} // namespace

int main(int argc, char **argv) {
  Options o;
  if (std::optional<int> status = parseArgs(argc, argv, o))
    return *status;
  LoadedModel m;
  if (std::optional<int> status = loadModel(o, m))
    return *status;
  std::vector<NpyTensor> data;
  std::vector<moe_tensor> args;
  if (std::optional<int> status = readInputs(o, m.info, data, args))
    return *status;

  std::vector<moe_tensor> results(m.info->num_outputs);
  char error[512] = "";
  std::function<bool()> runOnce = [&]() -> bool {
    for (moe_tensor &r : results)
      std::free(r.data), r.data = nullptr;
    return m.run(args.data(), static_cast<int32_t>(args.size()), results.data(),
                 static_cast<int32_t>(results.size()), error,
                 sizeof(error)) == MOE_OK;
  };
  if (!runOnce())
    return fail(error);
  // --async: the outputs' shapes from that call, then calls on device
  // buffers.
  AsyncCalls calls;
  std::string message;
  if (o.async) {
    if (!calls.setUp(m.handle, args, results, message))
      return fail(message);
    runOnce = [&]() -> bool {
      if (calls.queue(message) && calls.finish(message))
        return true;
      std::snprintf(error, sizeof(error), "%s", message.c_str());
      return false;
    };
    if (!runOnce() || !calls.copyOut(results, message))
      return fail(message);
  }
  int status = EXIT_SUCCESS;
  if (o.benchmark > 0) {
    benchmark(o, m, runOnce);
    if (o.async) {
      // Calls queued back to back, as a serving loop queues them.
      auto start = std::chrono::steady_clock::now();
      bool ok = true;
      for (long i = 0; ok && i < o.benchmark; ++i)
        ok = calls.queue(message);
      if (!ok || !calls.finish(message))
        return fail(message);
      std::printf("queued_ms_per_call: %.4f\n",
                  std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - start)
                          .count() /
                      static_cast<double>(o.benchmark));
    }
  }
  else
    status = writeOutputs(o, m.info, results);
  for (moe_tensor &r : results)
    std::free(r.data);
  return status;
}
