//===- CostReport.cpp - FLOPs, bytes and roofline time per kernel ---------===//
//
// A compile-time model of what a function costs on a device: the kernels
// each op becomes in that device's pipeline, with FLOPs and bytes counted
// from tensor types. The kernel counts per moe op are those of the
// pipelines (test/Passes/cost-report.mlir ties them to the CUDA pipeline's
// launches). Nothing in the IR changes.
//
//===----------------------------------------------------------------------===//

#include "Utils/GemmTiles.h"
#include "moe/Dialect/MoE.h"
#include "moe/Dialect/ONNX.h"
#include "moe/Passes/MoE.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>

namespace mlir::moe {
#define GEN_PASS_DEF_COSTREPORT
#include "passes/MoE/Passes.h.inc"
} // namespace mlir::moe

using namespace mlir;
using namespace mlir::moe;

namespace {

struct Device {
  const char *name;
  const char *chip; // GPUs: the chip the kernels are generated for
  double tensorFlops; // f16/bf16 GEMMs (tensor cores on GPUs)
  double flops;       // everything else (f32 FMA)
  double bandwidth;   // bytes/s
  double link;        // bytes/s per direction (all-to-all)
  bool gpu;
};

/// Dense peak figures of the SXM parts (vendor data sheets).
std::optional<Device> lookupDevice(StringRef name, double cpuGflops,
                                   double cpuGbps) {
  if (name == "h100")
    return Device{"H100 SXM", "sm_90", 989e12, 67e12, 3.35e12, 450e9, true};
  if (name == "h200")
    return Device{"H200 SXM", "sm_90", 989e12, 67e12, 4.8e12, 450e9, true};
  if (name == "a100")
    return Device{"A100 SXM 80GB", "sm_80", 312e12, 19.5e12,
                  2.04e12,         300e9,   true};
  if (name == "cpu")
    return Device{"host CPU",    "",          cpuGflops * 1e9, cpuGflops * 1e9,
                  cpuGbps * 1e9, cpuGbps * 1e9, false};
  return std::nullopt;
}

struct Kernel {
  std::string what;
  int64_t count = 1; // launches (or loop nests) this entry stands for
  double flops = 0, read = 0, written = 0;
  bool tensorCores = false;
  bool exchange = false; // an all-to-all: bytes over the link, no kernel
  /// GPU grouped GEMMs: the kernel's tile, and the roofline time of the
  /// work that kernel does (padded tiles, weights per row tile); 0: none.
  std::string tile;
  double estimate = 0;
};

/// What moe-decompose's dispatch implies under the routing assumption.
struct Plan {
  double tokens = 0, copies = 0, rows = 0, active = 0;
  int64_t experts = 0, k = 0;
};

class Costing {
public:
  Costing(const Device &device, int64_t tokens, ArrayRef<int64_t> counts)
      : device(device), tokens(tokens), counts(counts) {}

  void visit(Operation *op);
  const std::vector<Kernel> &kernels() const { return list; }
  int64_t layers = 0;

private:
  double numel(Type type) const {
    auto t = dyn_cast<ShapedType>(type);
    if (!t || !t.hasRank())
      return 0;
    double n = 1;
    for (int64_t d : t.getShape())
      n *= ShapedType::isDynamic(d) ? static_cast<double>(tokens)
                                    : static_cast<double>(d);
    return n;
  }
  static double eltBytes(Type type) {
    Type elt = getElementTypeOrSelf(type);
    return elt.isIntOrFloat() ? std::max(1u, elt.getIntOrFloatBitWidth() / 8)
                              : 8;
  }
  double bytes(Value v) const {
    return numel(v.getType()) * eltBytes(v.getType());
  }
  double dim(Value v, unsigned d) const {
    int64_t s = cast<ShapedType>(v.getType()).getDimSize(d);
    return ShapedType::isDynamic(s) ? static_cast<double>(tokens) : s;
  }
  /// Rows of a tensor produced under a dispatch's plan (dynamic rows).
  double rowsOf(Value v) const {
    auto it = planRows.find(v);
    return it != planRows.end() ? it->second : dim(v, 0);
  }
  void add(Kernel k) { list.push_back(std::move(k)); }
  Plan planFor(double tokens, int64_t k, int64_t experts, int64_t block) const;
  /// The router's share of a routing kernel: its input, router matmul,
  /// bias, scoring and top-k, and the weights it writes.
  template <typename OpT> Kernel router(OpT op, StringRef what) const;
  void route(RouteOp op);
  void routePlan(RoutePlanOp op);
  /// The GEMM tile model of the device's chip, with its HBM bandwidth.
  GpuModel gpuModel() const {
    GpuModel gpu = gpuModelFor(device.chip);
    gpu.hbmBytesPerS = device.bandwidth;
    return gpu;
  }
  /// The kernel computing a fused router's logits before the routing
  /// kernel, where the GPU pipeline runs one at this token count.
  std::optional<Kernel> routerLogits(RoutePlanOp op) const;
  /// The plan's share of a routing kernel, then the kernel added.
  void finishRoutePlan(Kernel &k, const Plan &p, double e);
  void dispatch(DispatchOp op);
  void expertMatmul(ExpertMatmulOp op);
  void estimateGPUKernel(ExpertMatmulOp op, Kernel &k, double copies,
                         double active, double perExpert) const;
  void activation(ActivationOp op);
  void combine(CombineOp op);
  void exchange(Value input);
  void dense(Operation *op);

  const Device &device;
  int64_t tokens;
  ArrayRef<int64_t> counts;
  std::vector<Kernel> list;
  DenseMap<Value, double> planRows;
  DenseMap<Value, Plan> plans; // by offsets value
};

Plan Costing::planFor(double tokens, int64_t k, int64_t experts,
                      int64_t b) const {
  Plan p;
  p.tokens = tokens;
  p.k = k;
  p.experts = experts;
  p.copies = p.tokens * p.k;
  auto roundUp = [&](double c) { return std::ceil(c / b) * b; };
  if (static_cast<int64_t>(counts.size()) == p.experts) {
    p.copies = 0;
    for (int64_t c : counts) {
      p.copies += c;
      p.active += c > 0;
      p.rows += roundUp(c);
    }
    p.tokens = p.copies / p.k;
    return p;
  }
  // Uniform: an expert is missed by a token with probability 1 - k/E.
  double e = p.experts;
  p.active = e * (1 - std::pow(1 - std::min(1.0, p.k / e), p.tokens));
  p.rows = p.active > 0 ? p.active * roundUp(p.copies / p.active) : 0;
  return p;
}

template <typename OpT> Kernel Costing::router(OpT op, StringRef what) const {
  Kernel k{what.str()};
  double t = dim(op.getInput(), 0), experts = op.getNumExperts();
  k.read = bytes(op.getInput());
  if (Value gate = op.getGateWeight()) {
    k.read += bytes(gate);
    k.flops += 2 * t * experts * dim(op.getInput(), 1);
  }
  if (Value bias = op.getBias())
    k.read += bytes(bias);
  k.flops += 8 * t * experts;
  k.written = bytes(op.getWeights());
  return k;
}

void Costing::route(RouteOp op) {
  Kernel k =
      router(op, op.getGateWeight() ? "route (router matmul, scores, top-k)"
                                    : "route (scores, top-k)");
  k.written += bytes(op.getIds());
  ++layers;
  add(k);
}

void Costing::routePlan(RoutePlanOp op) {
  Plan p = planFor(dim(op.getInput(), 0), op.getRouting().getK(),
                   op.getNumExperts(), op.getBlock());
  plans[op.getOffsets()] = p;
  planRows[op.getSlots()] = p.rows;
  double e = op.getNumExperts();
  if (std::optional<Kernel> logits = routerLogits(op)) {
    // The routing kernel reads the logits back; the dot-product variant
    // computes and writes them in the same launch, after a GEMM they are a
    // kernel of their own.
    bool merged = !logits->tensorCores;
    Kernel k{merged ? "routing + plan (router dot products over blocks, "
                      "top-k, placement)"
                    : "routing + plan (top-k, placement)"};
    k.read = logits->written;
    k.flops = 8 * p.tokens * e;
    k.written = bytes(op.getWeights());
    if (merged) {
      k.flops += logits->flops;
      k.read += logits->read;
      k.written += logits->written;
    } else {
      add(*logits);
    }
    finishRoutePlan(k, p, e);
    return;
  }
  Kernel k = router(op, op.getGateWeight()
                            ? "routing + plan (router matmul, top-k, placement)"
                            : "routing + plan (scores, top-k, placement)");
  finishRoutePlan(k, p, e);
}

std::optional<Kernel> Costing::routerLogits(RoutePlanOp op) const {
  // moe-gpu-route-plan's choice (GPU/RoutePlan.cpp, the same model): the
  // logits from the dot-product routing kernel or a GEMM of their own when
  // the router is fused and the token count reaches its threshold.
  Value gate = op.getGateWeight();
  if (!device.gpu || !gate)
    return std::nullopt;
  auto gateType = cast<ShapedType>(gate.getType());
  Type elt = getElementTypeOrSelf(op.getInput().getType());
  double t = dim(op.getInput(), 0), e = op.getNumExperts();
  double hidden = dim(op.getInput(), 1);
  if (!gateType.hasStaticShape())
    return std::nullopt;
  bool gemmFits = fitsPipelinedGemm(elt, getElementTypeOrSelf(gateType),
                                    gateType.getDimSize(1));
  RouterLogitsPlan plan =
      routerLogitsPlan(e, hidden, eltBytes(elt), gemmFits, gpuModel());
  if (t < static_cast<double>(plan.gemvFrom))
    return std::nullopt;
  bool gemm = t >= static_cast<double>(plan.gemmFrom);
  Kernel k{gemm ? "router logits (tensor-core GEMM)"
                : "router dot products (merged into routing)"};
  k.flops = 2 * t * e * hidden;
  k.read = bytes(op.getInput()) + bytes(gate);
  k.written = t * e * 4;
  k.tensorCores = gemm;
  return k;
}

void Costing::finishRoutePlan(Kernel &k, const Plan &p, double e) {
  k.flops += 2 * p.copies;
  // Each copy's expert and position go through memory once (scratch),
  // the counters and the filled slots on top of the results.
  k.read += 2 * p.copies * 4 + e * 4;
  k.written += 2 * p.copies * 4 + p.rows * 4 + 2 * (e + 1) * 4;
  ++layers;
  add(k);
}

void Costing::dispatch(DispatchOp op) {
  Plan p = planFor(dim(op.getInput(), 0),
                   cast<ShapedType>(op.getIds().getType()).getDimSize(1),
                   op.getNumExperts(), op.getBlock());
  plans[op.getOffsets()] = p;
  planRows[op.getGrouped()] = p.rows;
  planRows[op.getSlots()] = p.rows;
  double e = p.experts;
  Kernel plan{"routing plan (counts, offsets, placement)"};
  // Counting (and the id check), prefix sum, offsets copy, placement; the
  // zeroed counters and the padding slots are fills on the copy engine.
  plan.count = device.gpu ? 4 : 1;
  plan.read = 2 * p.copies * 4;
  plan.written = p.rows * 4 + 2 * (e + 1) * 4;
  plan.flops = 2 * p.copies;
  add(plan);
  // With moe-fuse-dispatch-gather the GEMM reads the tokens through the
  // slots and nothing builds the grouped copy.
  if (op.getGrouped().use_empty())
    return;
  Kernel gather{"gather token copies by expert"};
  double h = dim(op.getInput(), 1), elt = eltBytes(op.getInput().getType());
  gather.read = p.copies * h * elt + p.rows * 4;
  gather.written = p.rows * h * elt;
  add(gather);
}

void Costing::expertMatmul(ExpertMatmulOp op) {
  auto it = plans.find(op.getOffsets());
  Plan p = it != plans.end() ? it->second : Plan{};
  double rows = it != plans.end() ? p.rows : dim(op.getInput(), 0);
  double active =
      it != plans.end()
          ? p.active
          : cast<ShapedType>(op.getWeight().getType()).getDimSize(0);
  auto w = cast<ShapedType>(op.getWeight().getType());
  double n = w.getDimSize(1), kk = dim(op.getInput(), 1);
  double perExpert = n * w.getDimSize(2) * eltBytes(w);
  std::string act = op.isGathered() ? " gathered" : "";
  if (std::optional<ActivationAttr> epilogue = op.getEpilogue())
    act += std::string(" + ") +
           stringifyActivationKind(epilogue->getKind()).str() +
           (epilogue->isGated() ? " gated" : "");
  if (op.isCombined())
    act += " + combine";
  Kernel k{"grouped GEMM " + std::to_string(static_cast<int64_t>(n)) + "x" +
           std::to_string(static_cast<int64_t>(kk)) + act +
           (op.isQuantized()
                ? " (" + std::to_string(op.getWeightBits()) + "-bit weights)"
                : std::string())};
  // The useful work: the token copies' rows (the padding rows' products
  // are in the GPU kernels' estimate).
  double copies = it != plans.end() ? p.copies : rows;
  k.flops = 2 * copies * n * kk;
  k.read = rows * kk * eltBytes(op.getInput().getType()) + active * perExpert;
  for (Value extra : {op.getBias(), op.getScales(), op.getZeroPoints()})
    if (extra) {
      auto t = cast<ShapedType>(extra.getType());
      k.read += active * numel(t) / t.getDimSize(0) * eltBytes(t);
    }
  double width = dim(op.getResult(), 1);
  double outElt = eltBytes(op.getResult().getType());
  k.written = rows * width * outElt;
  if (op.isCombined()) {
    // Weighted rows added into the tokens' rows (atomically on GPUs), after
    // a copy of their initial value when it is not a fill (listed apart).
    k.read += bytes(op.getCombineWeights()) + rows * 4;
    if (!isa_and_nonnull<linalg::FillOp>(op.getCombineInit().getDefiningOp())) {
      double copy = bytes(op.getCombineInit());
      k.read += copy;
      k.written += copy;
    }
  }
  Type elt = getElementTypeOrSelf(op.getInput().getType());
  k.tensorCores =
      device.gpu && !op.isQuantized() && (elt.isF16() || elt.isBF16());
  if (device.gpu)
    estimateGPUKernel(op, k, copies, active, perExpert);
  planRows[op.getResult()] = rows;
  add(k);
}

void Costing::estimateGPUKernel(ExpertMatmulOp op, Kernel &k, double copies,
                                double active, double perExpert) const {
  // The kernel moe-gpu-expert-matmul generates (GPU/ExpertMatmul.cpp): for
  // 16-bit operands with K a multiple of 8, the pipelined kernels, one of
  // whose row tiles the host picks by token copies (Utils/GemmTiles.h, the
  // same model); otherwise 64-row tiles.
  auto w = cast<ShapedType>(op.getWeight().getType());
  Type elt = getElementTypeOrSelf(op.getInput().getType());
  int64_t kStatic = cast<ShapedType>(op.getInput().getType()).getDimSize(1);
  bool mma = k.tensorCores && getElementTypeOrSelf(w) == elt;
  bool pipelined =
      k.tensorCores && fitsPipelinedGemm(elt, getElementTypeOrSelf(w), kStatic);
  double n = w.getDimSize(1), kk = dim(op.getInput(), 1);
  if (pipelined) {
    GpuModel gpu = gpuModel();
    double bytesPerElt = eltBytes(elt);
    std::vector<TileChoice> tiles =
        rowTilePlan(static_cast<double>(w.getDimSize(0)), n, kk, bytesPerElt,
                    gpu);
    GemmTile tile = choiceFor(tiles, copies).tile;
    k.tile = tile.describe();
    if (tiles.size() > 1) {
      // The run-time choice: each tile's shape and the copies it starts at.
      auto shape = [](const GemmTile &t) {
        return std::to_string(t.m) + "x" + std::to_string(t.n);
      };
      k.tile += " (" + shape(tiles[0].tile);
      for (size_t i = 1; i < tiles.size(); ++i)
        k.tile += ", " + shape(tiles[i].tile) + " from " +
                  std::to_string(tiles[i].from) + " copies";
      k.tile += ")";
    }
    k.estimate = estimateTile(tile,
                              {copies, active, n, kk, bytesPerElt,
                               k.read + k.written},
                              gpu)
                     .seconds;
    return;
  }
  double tileN = 64, tileK = mma ? 32 : 16;
  k.tile = mma ? "64x64x32 mma" : "64x64x16 fma";
  double perExpertRows = active > 0 ? copies / active : 0;
  double tiles = std::ceil(perExpertRows / 64);
  double flops = 2 * active * tiles * 64 * std::ceil(n / tileN) * tileN *
                 std::ceil(kk / tileK) * tileK;
  // Weights stream once per row tile.
  double bytes =
      k.read + k.written + active * std::max(0.0, tiles - 1) * perExpert;
  double peak = k.tensorCores ? device.tensorFlops : device.flops;
  k.estimate = std::max(flops / peak, bytes / device.bandwidth);
}

void Costing::activation(ActivationOp op) {
  // Routed rows come from a dispatch; a shared expert's are the tokens.
  bool routed = planRows.count(op.getInput());
  double rows = rowsOf(op.getInput());
  double elt = eltBytes(op.getInput().getType());
  double in = dim(op.getInput(), 1), out = dim(op.getResult(), 1);
  Kernel k{routed ? "activation" : "activation (shared expert)"};
  k.read = rows * in * elt + (op.getUp() ? rows * out * elt : 0);
  k.written = rows * out * elt;
  k.flops = 8 * rows * out;
  if (!routed)
    return add(k);
  planRows[op.getResult()] = rows;
  add(k);
}

void Costing::combine(CombineOp op) {
  double rows = rowsOf(op.getInput());
  double t = dim(op.getWeights(), 0), kk = dim(op.getWeights(), 1);
  double h = dim(op.getInput(), 1), elt = eltBytes(op.getInput().getType());
  Kernel k{"combine (weighted un-permute and sum)"};
  k.count = device.gpu ? 3 : 1;
  k.read = t * kk * h * elt + rows * 4 + bytes(op.getWeights());
  k.written = t * h * elt;
  k.flops = 2 * t * kk * h;
  add(k);
}

void Costing::exchange(Value input) {
  Kernel k{"all-to-all exchange"};
  k.exchange = true;
  k.count = 0;
  double rows = rowsOf(input);
  k.read = rows * dim(input, 1) * eltBytes(input.getType());
  k.written = k.read;
  add(k);
}

void Costing::dense(Operation *op) {
  // Views, constants and shape computations move no data.
  if (op->getNumResults() == 0 ||
      isa<arith::ConstantOp, tensor::EmptyOp, tensor::CastOp,
          tensor::ExtractSliceOp, tensor::CollapseShapeOp,
          tensor::ExpandShapeOp, tensor::DimOp, tensor::ExtractOp,
          tensor::FromElementsOp, onnx::ConstantOp, onnx::ShapeOp,
          onnx::ReshapeOp, onnx::SqueezeOp, onnx::UnsqueezeOp, onnx::IdentityOp,
          onnx::ConstantOfShapeOp, onnx::RangeOp, onnx::FlattenOp,
          onnx::NoValueOp>(op))
    return;
  if (!llvm::any_of(op->getResultTypes(),
                    [](Type t) { return isa<RankedTensorType>(t); }))
    return;
  Kernel k{op->getName().getStringRef().str()};
  // A whole-buffer fill is the GPU's copy engine's work (moe-gpu-copy-engine).
  if (isa<linalg::FillOp>(op) && device.gpu) {
    k.what = "fill (copy engine)";
    k.count = 0;
    k.written = bytes(op->getResult(0));
    return add(k);
  }
  for (Value v : op->getOperands())
    if (isa<RankedTensorType>(v.getType()))
      k.read += bytes(v);
  for (Value v : op->getResults())
    k.written += bytes(v);
  double flops = 0;
  if (auto linalgOp = dyn_cast<linalg::LinalgOp>(op)) {
    double iterations = 1;
    for (int64_t r : linalgOp.getStaticLoopRanges())
      iterations *= ShapedType::isDynamic(r) ? tokens : r;
    flops = linalgOp.getNumReductionLoops() ? 2 * iterations : iterations;
    if (linalgOp.getNumReductionLoops())
      k.tensorCores = device.gpu && [&] {
        Type elt = getElementTypeOrSelf(op->getOperand(0).getType());
        return elt.isF16() || elt.isBF16();
      }();
  } else if (isa<onnx::MatMulOp, onnx::GemmOp>(op)) {
    Value a = op->getOperand(0);
    auto aType = cast<ShapedType>(a.getType());
    double kk = dim(a, aType.getRank() - 1);
    flops = 2 * numel(op->getResult(0).getType()) * kk;
  } else {
    for (Type t : op->getResultTypes())
      flops += numel(t);
  }
  k.flops = flops;
  add(k);
}

void Costing::visit(Operation *op) {
  if (auto r = dyn_cast<RouteOp>(op))
    return route(r);
  if (auto r = dyn_cast<RoutePlanOp>(op))
    return routePlan(r);
  if (auto d = dyn_cast<DispatchOp>(op))
    return dispatch(d);
  if (auto m = dyn_cast<ExpertMatmulOp>(op))
    return expertMatmul(m);
  if (auto a = dyn_cast<ActivationOp>(op))
    return activation(a);
  if (auto c = dyn_cast<CombineOp>(op))
    return combine(c);
  if (auto x = dyn_cast<AllToAllOp>(op))
    return exchange(x.getInput());
  if (auto x = dyn_cast<AllToAllStartOp>(op))
    return exchange(x.getInput());
  if (isa<AllToAllWaitOp, func::ReturnOp>(op))
    return;
  dense(op);
}

std::string scaled(double v, double unit, int precision = 3) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::format(("%." + std::to_string(precision) + "f").c_str(),
                     v / unit);
  return s;
}

struct CostReportPass : moe::impl::CostReportBase<CostReportPass> {
  using Base::Base;
  std::string chip; // sm= as a chip name, which the device then points to

  /// The schedule runs as a dynamic pipeline: its dialects load up front.
  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    OpPassManager pm;
    MoESchedule all;
    all.fuseCombine = true;
    addMoESchedule(pm, all);
    pm.getDependentDialects(registry);
  }

  void runOnOperation() override {
    std::optional<Device> dev = lookupDevice(device, cpuGflops, cpuGbps);
    if (!dev) {
      mlir::emitError(getOperation().getLoc(),
                      "moe-cost-report: unknown device '")
          << device << "' (h100, h200, a100 or cpu)";
      return signalPassFailure();
    }
    if (tokens < 1) {
      mlir::emitError(getOperation().getLoc(),
                      "moe-cost-report: tokens must be positive");
      return signalPassFailure();
    }
    if (!sm.empty()) {
      if (!dev->gpu) {
        mlir::emitError(getOperation().getLoc(),
                        "moe-cost-report: sm= applies to GPU devices only");
        return signalPassFailure();
      }
      chip = "sm_" + sm;
      dev->chip = chip.c_str();
    }
    int64_t rowBlock = block > 0 ? block : (dev->gpu ? kGemmRowAlign : 1);
    llvm::raw_ostream &os = llvm::outs();
    os << "moe cost report: " << dev->name << " (";
    if (dev->gpu)
      os << scaled(dev->tensorFlops, 1e12, 0) << " TFLOP/s f16/bf16 GEMMs, "
         << scaled(dev->flops, 1e12, 1) << " TFLOP/s otherwise, ";
    else
      os << scaled(dev->flops, 1e9, 0) << " GFLOP/s, ";
    os << scaled(dev->bandwidth, 1e9, 0) << " GB/s), dynamic dims = " << tokens
       << ", routing: "
       << (expertCounts.empty() ? "uniform" : "given expert counts")
       << ", dispatch block " << rowBlock << "\n";

    for (auto fn : getOperation().getOps<FunctionOpInterface>()) {
      if (fn.isExternal())
        continue;
      FailureOr<Costing> unfused = cost(fn, *dev, rowBlock, Fusions{});
      Fusions fusions{fuseActivation, fuseGather, fuseRoutingPlan,
                      fuseCombine && dev->gpu};
      FailureOr<Costing> scheduled = cost(fn, *dev, rowBlock, fusions);
      FailureOr<Costing> full =
          cost(fn, *dev, rowBlock, Fusions{true, true, true, dev->gpu});
      if (failed(unfused) || failed(scheduled) || failed(full))
        return signalPassFailure();
      report(os, fn.getName(), *scheduled, *unfused, *full, *dev);
    }
  }

  struct Fusions {
    bool activation = false, gather = false, routingPlan = false,
         combine = false;
  };

  /// The function as the pipelines schedule it, with the given fusions:
  /// the MoE schedule run on a copy, placed beside the function under a
  /// name of its own while it runs.
  FailureOr<Costing> cost(FunctionOpInterface fn, const Device &dev,
                          int64_t rowBlock, Fusions with) {
    MoESchedule schedule;
    schedule.block = rowBlock;
    schedule.fuseActivation = with.activation;
    schedule.fuseGather = with.gather;
    schedule.fuseRoutingPlan = with.routingPlan;
    schedule.fuseCombine = with.combine;
    OpPassManager pm;
    addMoESchedule(pm, schedule);
    OpBuilder builder(fn);
    builder.setInsertionPointAfter(fn);
    Operation *copy = builder.clone(*fn.getOperation());
    SymbolTable::setSymbolName(copy, (fn.getName() + ".cost").str());
    if (failed(runPipeline(pm, copy))) {
      copy->erase();
      return failure();
    }
    Costing costing(dev, tokens, expertCounts);
    copy->walk<WalkOrder::PreOrder>([&](Operation *op) {
      if (op == copy)
        return WalkResult::advance();
      costing.visit(op);
      // A linalg op's body is part of its kernel.
      return WalkResult::skip();
    });
    copy->erase();
    return costing;
  }

  struct Totals {
    int64_t kernels = 0;
    double flops = 0, bytes = 0, time = 0, estimate = 0;
  };
  static Totals totals(const Costing &c, const Device &dev) {
    Totals t;
    for (const Kernel &k : c.kernels()) {
      t.flops += k.flops;
      t.time += roofline(k, dev);
      t.estimate += k.estimate > 0 ? k.estimate : roofline(k, dev);
      if (!k.exchange) {
        t.bytes += k.read + k.written;
        t.kernels += k.count;
      }
    }
    return t;
  }
  static double roofline(const Kernel &k, const Device &dev) {
    double peak = k.tensorCores ? dev.tensorFlops : dev.flops;
    double memory =
        k.exchange ? k.read / dev.link : (k.read + k.written) / dev.bandwidth;
    return std::max(k.flops / peak, memory);
  }

  void report(llvm::raw_ostream &os, StringRef name, const Costing &c,
              const Costing &unfused, const Costing &full, const Device &dev) {
    os << "@" << name << ":\n";
    os << llvm::format("  %-3s %-44s %8s %10s %10s %10s %11s %s\n", "#",
                       "kernel", "launches", "MFLOP", "MB read", "MB written",
                       "roofline us", "bound");
    int64_t index = 0;
    for (const Kernel &k : c.kernels()) {
      double peak = k.tensorCores ? dev.tensorFlops : dev.flops;
      double t = roofline(k, dev);
      const char *bound = k.exchange ? "link"
                          : k.flops / peak >= t
                              ? (k.tensorCores ? "tensor cores" : "compute")
                              : "memory";
      os << llvm::format(
          "  %-3d %-44s %8d %10s %10s %10s %11s %s",
          static_cast<int>(++index), k.what.c_str(), static_cast<int>(k.count),
          scaled(k.flops, 1e6).c_str(), scaled(k.read, 1e6).c_str(),
          scaled(k.written, 1e6).c_str(), scaled(t, 1e-6, 2).c_str(), bound);
      if (k.estimate > 0)
        os << "; tile " << k.tile << ": " << scaled(k.estimate, 1e-6, 2)
           << " us (" << scaled(100 * t / k.estimate, 1, 0) << "% of roofline)";
      os << "\n";
    }
    Totals now = totals(c, dev), before = totals(unfused, dev);
    os << "  total: " << now.kernels << " kernels, " << scaled(now.flops, 1e6)
       << " MFLOP, " << scaled(now.bytes, 1e6) << " MB moved, roofline "
       << scaled(now.time, 1e-6, 2) << " us";
    if (dev.gpu)
      os << "; the generated kernels' work: " << scaled(now.estimate, 1e-6, 2)
         << " us (" << scaled(100 * now.time / now.estimate, 1, 0)
         << "% of roofline)";
    os << "\n";
    if (!c.layers)
      return;
    os << "  MoE layers: " << c.layers << "; before fusion: " << before.kernels
       << " kernels, " << scaled(before.bytes, 1e6) << " MB, "
       << scaled(before.time, 1e-6, 2) << " us; as scheduled: " << now.kernels
       << " kernels, " << scaled(now.bytes, 1e6) << " MB, "
       << scaled(now.time, 1e-6, 2) << " us\n";
    Totals all = totals(full, dev);
    os << "  with every MoE fusion (routing + plan, gather + up/gate GEMM + "
          "activation, down GEMM + combine"
       << (dev.gpu ? "" : "; the CPU keeps the combine apart")
       << "): " << all.kernels << " kernels, " << scaled(all.bytes, 1e6)
       << " MB, " << scaled(all.time, 1e-6, 2) << " us ("
       << scaled(before.bytes - all.bytes, 1e6)
       << " MB less than before fusion)\n";
  }
};
} // namespace
