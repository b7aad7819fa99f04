//===- Passes.h - every pass stage of the moe compiler ----------*- C++ -*-===//
//
// The stages in pipeline order; include a stage's own header where only its
// passes are needed.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_PASSES_PASSES_H
#define MOE_PASSES_PASSES_H

#include "moe/Passes/CPU.h"
#include "moe/Passes/GPU.h"
#include "moe/Passes/Linalg.h"
#include "moe/Passes/MoE.h"
#include "moe/Passes/MoEToLinalg.h"
#include "moe/Passes/ONNXToCore.h"
#include "moe/Passes/Raise.h"
#include "moe/Passes/Runtime.h"

namespace mlir::moe {

/// Registers the passes of every stage.
inline void registerMoEPasses() {
  registerMoERaisePasses();
  registerMoEONNXToCorePasses();
  registerMoEMoEPasses();
  registerMoEMoEToLinalgPasses();
  registerMoELinalgPasses();
  registerMoECPUPasses();
  registerMoEGPUPasses();
  registerMoERuntimePasses();
}

} // namespace mlir::moe

#endif // MOE_PASSES_PASSES_H
