//===- moe-model-fuzzer.cpp - structure-aware fuzzer of the whole path ----===//
//
// libFuzzer target whose inputs are valid ONNX models: a custom mutator
// parses the ModelProto and changes what a model file can get wrong
// (attribute values, dimensions, element types, constant values, node
// inputs and op types) before serializing it again. Each model is imported,
// compiled by the CPU pipeline, emitted as a shared library and run on small
// random inputs. Errors are expected at every stage; crashes, hangs,
// sanitizer reports and leaks are bugs.
//
//===----------------------------------------------------------------------===//

#include "moe/Import/ONNXImport.h"
#include "moe/InitAll.h"
#include "moe/Pipelines/Pipelines.h"
#include "moe/Runtime/ModelABI.h"
#include "moe/Target/Emit.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"

#include "onnx/onnx_pb.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <limits>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size,
                                   size_t maxSize);

namespace {
using Rng = std::mt19937_64;

template <typename T> T pick(Rng &rng, std::initializer_list<T> values) {
  return values.begin()[rng() % values.size()];
}

int64_t interestingInt(Rng &rng, int64_t current) {
  // Neighbours of the current value wrap (no signed overflow).
  auto wrap = [](uint64_t v) { return static_cast<int64_t>(v); };
  uint64_t u = static_cast<uint64_t>(current);
  return pick<int64_t>(rng, {0, 1, -1, 2, 3, wrap(u + 1), wrap(u - 1),
                             wrap(u * 2), 64, 1 << 20,
                             std::numeric_limits<int64_t>::max(),
                             std::numeric_limits<int64_t>::min(),
                             static_cast<int64_t>(rng() % 16)});
}

float interestingFloat(Rng &rng, float current) {
  return pick<float>(rng, {0.0f, -1.0f, 1.0f, current * 2, -current,
                           std::numeric_limits<float>::quiet_NaN(),
                           std::numeric_limits<float>::infinity(), 1e30f,
                           1e-30f});
}

/// One attribute of a random node: a new value of its kind, or the
/// attribute dropped.
void mutateAttribute(onnx::GraphProto &g, Rng &rng) {
  if (g.node_size() == 0)
    return;
  onnx::NodeProto &node = *g.mutable_node(rng() % g.node_size());
  if (node.attribute_size() == 0 || rng() % 8 == 0) {
    onnx::AttributeProto *a = node.add_attribute();
    a->set_name(pick<const char *>(rng, {"k", "axis", "perm", "activation_type",
                                          "normalize_routing_weights",
                                          "expert_weight_bits", "block_size",
                                          "swiglu_fusion", "keepdims"}));
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(interestingInt(rng, 1));
    return;
  }
  int index = rng() % node.attribute_size();
  if (rng() % 10 == 0) {
    node.mutable_attribute()->DeleteSubrange(index, 1);
    return;
  }
  onnx::AttributeProto &a = *node.mutable_attribute(index);
  switch (a.type()) {
  case onnx::AttributeProto::INT:
    a.set_i(interestingInt(rng, a.i()));
    break;
  case onnx::AttributeProto::FLOAT:
    a.set_f(interestingFloat(rng, a.f()));
    break;
  case onnx::AttributeProto::INTS:
    if (a.ints_size() && rng() % 3)
      a.set_ints(rng() % a.ints_size(),
                 interestingInt(rng, a.ints(rng() % a.ints_size())));
    else if (rng() % 2)
      a.add_ints(interestingInt(rng, 0));
    else
      a.clear_ints();
    break;
  case onnx::AttributeProto::STRING:
    a.set_s(pick<const char *>(rng, {"silu", "gelu", "relu", "swiglu",
                                      "identity", "", "NOTSET", "bogus"}));
    break;
  default:
    a.set_type(onnx::AttributeProto::INT);
    a.set_i(interestingInt(rng, 0));
  }
}

/// A dimension of a graph input or output: another size, a name, or one
/// dimension more or less.
void mutateDims(onnx::GraphProto &g, Rng &rng) {
  int n = g.input_size() + g.output_size();
  if (n == 0)
    return;
  int i = rng() % n;
  onnx::ValueInfoProto &v = i < g.input_size()
                                ? *g.mutable_input(i)
                                : *g.mutable_output(i - g.input_size());
  onnx::TensorShapeProto *shape =
      v.mutable_type()->mutable_tensor_type()->mutable_shape();
  switch (rng() % 4) {
  case 0:
    shape->add_dim()->set_dim_value(interestingInt(rng, 2));
    return;
  case 1:
    if (shape->dim_size())
      shape->mutable_dim()->RemoveLast();
    return;
  default:
    if (!shape->dim_size())
      return;
    onnx::TensorShapeProto::Dimension &d =
        *shape->mutable_dim(rng() % shape->dim_size());
    if (rng() % 3 == 0)
      d.set_dim_param(pick<const char *>(rng, {"tokens", "seq", "T", "x"}));
    else
      d.set_dim_value(interestingInt(rng, d.dim_value()));
  }
}

int32_t interestingType(Rng &rng) {
  return pick<int32_t>(rng, {onnx::TensorProto::FLOAT,
                             onnx::TensorProto::FLOAT16,
                             onnx::TensorProto::BFLOAT16,
                             onnx::TensorProto::INT64, onnx::TensorProto::INT32,
                             onnx::TensorProto::INT8, onnx::TensorProto::UINT8,
                             onnx::TensorProto::BOOL, onnx::TensorProto::DOUBLE,
                             onnx::TensorProto::STRING, 0, 99});
}

/// The element type of an input, output or initializer.
void mutateType(onnx::GraphProto &g, Rng &rng) {
  if (g.initializer_size() && rng() % 2) {
    g.mutable_initializer(rng() % g.initializer_size())
        ->set_data_type(interestingType(rng));
    return;
  }
  if (g.input_size())
    g.mutable_input(rng() % g.input_size())
        ->mutable_type()
        ->mutable_tensor_type()
        ->set_elem_type(interestingType(rng));
}

/// Values of a constant: special floats or integers written over some
/// elements, or its dimensions changed.
void mutateConstant(onnx::GraphProto &g, Rng &rng) {
  if (g.initializer_size() == 0)
    return;
  onnx::TensorProto &t = *g.mutable_initializer(rng() % g.initializer_size());
  if (rng() % 4 == 0 && t.dims_size()) {
    t.set_dims(rng() % t.dims_size(), interestingInt(rng, t.dims(0)));
    return;
  }
  if (t.has_raw_data() && !t.raw_data().empty()) {
    std::string &raw = *t.mutable_raw_data();
    for (int i = 0, n = 1 + rng() % 4; i < n; ++i) {
      size_t at = (rng() % raw.size()) & ~size_t(3);
      if (at + 4 <= raw.size() && t.data_type() == onnx::TensorProto::FLOAT) {
        float f = interestingFloat(rng, 1.0f);
        std::memcpy(&raw[at], &f, 4);
      } else {
        raw[rng() % raw.size()] = static_cast<char>(interestingInt(rng, 0));
      }
    }
    return;
  }
  if (t.int64_data_size())
    t.set_int64_data(rng() % t.int64_data_size(), interestingInt(rng, 0));
  else if (t.float_data_size())
    t.set_float_data(rng() % t.float_data_size(), interestingFloat(rng, 0));
}

/// A node's wiring or kind: inputs swapped, dropped or emptied, or another
/// op type.
void mutateNode(onnx::GraphProto &g, Rng &rng) {
  if (g.node_size() == 0)
    return;
  onnx::NodeProto &node = *g.mutable_node(rng() % g.node_size());
  switch (rng() % 4) {
  case 0:
    if (node.input_size() >= 2)
      node.mutable_input()->SwapElements(rng() % node.input_size(),
                                         rng() % node.input_size());
    return;
  case 1:
    if (node.input_size())
      node.mutable_input()->RemoveLast();
    return;
  case 2:
    if (node.input_size())
      node.set_input(rng() % node.input_size(), "");
    return;
  default:
    node.set_op_type(pick<const char *>(
        rng, {"MatMul", "Add", "Softmax", "TopK", "Gather", "Reshape",
              "Transpose", "Concat", "MoE", "QMoE", "Sigmoid", "Mul"}));
  }
}
} // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size,
                                          size_t maxSize, unsigned int seed) {
  onnx::ModelProto model;
  if (!model.ParseFromArray(data, static_cast<int>(size)) ||
      !model.has_graph())
    return LLVMFuzzerMutate(data, size, maxSize);
  Rng rng(seed);
  onnx::GraphProto &g = *model.mutable_graph();
  for (int i = 0, n = 1 + rng() % 3; i < n; ++i) {
    switch (rng() % 6) {
    case 0:
      mutateAttribute(g, rng);
      break;
    case 1:
      mutateDims(g, rng);
      break;
    case 2:
      mutateType(g, rng);
      break;
    case 3:
      mutateConstant(g, rng);
      break;
    case 4:
      mutateNode(g, rng);
      break;
    default:
      // Now and then the bytes themselves (the importer's own fuzzer
      // covers that ground more).
      return LLVMFuzzerMutate(data, size, maxSize);
    }
  }
  std::string out;
  if (!model.SerializeToString(&out) || out.size() > maxSize)
    return size;
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

namespace {
using InfoFn = const moe_model_info *(*)(int32_t);
using CountFn = int32_t (*)();
using RunFn = int (*)(const moe_tensor *, int32_t, moe_tensor *, int32_t,
                      char *, size_t);

size_t elementBytes(moe_dtype t) {
  switch (t) {
  case MOE_DTYPE_F32:
  case MOE_DTYPE_I32:
    return 4;
  case MOE_DTYPE_I64:
    return 8;
  case MOE_DTYPE_F16:
  case MOE_DTYPE_BF16:
  case MOE_DTYPE_I16:
    return 2;
  default:
    return 1;
  }
}

/// Runs every entry function of the library on small inputs (dynamic sizes
/// 3, values small: integer inputs are often indices).
void runLibrary(const std::string &path, Rng &rng) {
  void *lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    return;
  auto count = reinterpret_cast<CountFn>(dlsym(lib, "moe_model_num_functions"));
  auto info = reinterpret_cast<InfoFn>(dlsym(lib, "moe_model_function_info"));
  for (int32_t f = 0, n = count && info ? count() : 0; f < n; ++f) {
    const moe_model_info *m = info(f);
    auto run = reinterpret_cast<RunFn>(
        dlsym(lib, (std::string(m->name) + "_run").c_str()));
    if (!run)
      continue;
    std::vector<moe_tensor> inputs(m->num_inputs);
    std::vector<std::vector<char>> data(m->num_inputs);
    bool tooBig = false;
    for (int32_t i = 0; i < m->num_inputs; ++i) {
      const moe_tensor_info &want = m->inputs[i];
      moe_tensor &t = inputs[i];
      t.dtype = want.dtype;
      t.rank = want.rank;
      size_t elements = 1;
      for (int32_t d = 0; d < want.rank; ++d) {
        t.shape[d] = want.shape[d] < 0 ? 3 : want.shape[d];
        elements *= static_cast<size_t>(t.shape[d]);
        tooBig |= elements > (1u << 20);
      }
      if (tooBig)
        break;
      size_t width = elementBytes(t.dtype);
      data[i].resize(elements * width);
      for (size_t e = 0; e < elements; ++e) {
        char *at = data[i].data() + e * width;
        // Integers in [0, 4) (sizes, indices, expert ids); floats in
        // [-2, 2); f16/bf16 and bools as small raw values.
        if (t.dtype == MOE_DTYPE_F32) {
          float f = static_cast<float>(rng() % 1024) / 256.0f - 2.0f;
          std::memcpy(at, &f, 4);
        } else if (t.dtype == MOE_DTYPE_I64) {
          int64_t v = static_cast<int64_t>(rng() % 4);
          std::memcpy(at, &v, 8);
        } else if (t.dtype == MOE_DTYPE_I32) {
          int32_t v = static_cast<int32_t>(rng() % 4);
          std::memcpy(at, &v, 4);
        } else {
          at[0] = static_cast<char>(rng() % 2);
        }
      }
      t.data = data[i].data();
    }
    if (tooBig)
      continue;
    std::vector<moe_tensor> outputs(std::max(m->num_outputs, 1));
    char error[256];
    if (run(inputs.data(), m->num_inputs, outputs.data(), m->num_outputs,
            error, sizeof(error)) == MOE_OK)
      for (int32_t o = 0; o < m->num_outputs; ++o)
        std::free(outputs[o].data);
  }
  dlclose(lib);
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static mlir::DialectRegistry *registry = [] {
    auto *r = new mlir::DialectRegistry();
    mlir::moe::registerAllDialects(*r);
    return r;
  }();
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  mlir::MLIRContext context(*registry, mlir::MLIRContext::Threading::DISABLED);
  mlir::ScopedDiagnosticHandler quiet(
      &context, [](mlir::Diagnostic &) { return mlir::success(); });
  auto module = mlir::moe::importONNXBuffer(
      bytes, "/nonexistent-fuzz-dir/model.onnx", /*text=*/false, &context);
  if (!module)
    return 0;
  mlir::PassManager pm(&context);
  mlir::moe::buildCPUPipeline(pm, mlir::moe::CPUPipelineOptions());
  if (failed(pm.run(*module)))
    return 0;
  llvm::SmallString<128> path;
  int fd;
  if (llvm::sys::fs::createTemporaryFile("moe-fuzz", "so", fd, path))
    return 0;
  ::close(fd);
  if (succeeded(mlir::moe::emitModule(*module, mlir::moe::EmitKind::Shared,
                                      path))) {
    Rng rng(size);
    runLibrary(std::string(path), rng);
  }
  llvm::sys::fs::remove(path);
  return 0;
}
