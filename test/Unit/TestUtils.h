//===- TestUtils.h - shared fixture for the moe unit tests ------*- C++ -*-===//

#ifndef MOE_TEST_UNIT_TESTUTILS_H
#define MOE_TEST_UNIT_TESTUTILS_H

#include "moe/InitAll.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>
#include <string>

namespace moe_test {

/// A context with every dialect moe-opt knows, collecting diagnostics
/// instead of printing them.
class MoETest : public ::testing::Test {
protected:
  MoETest()
      : context(makeRegistry()),
        handler(&context, [this](mlir::Diagnostic &diag) {
          diagnostics += diag.str() + "\n";
        }) {
    context.loadAllAvailableDialects();
  }

  static mlir::DialectRegistry makeRegistry() {
    mlir::DialectRegistry registry;
    mlir::moe::registerAllDialects(registry);
    return registry;
  }

  mlir::OwningOpRef<mlir::ModuleOp> parse(const std::string &source) {
    return mlir::parseSourceString<mlir::ModuleOp>(source, &context);
  }

  mlir::MLIRContext context;
  mlir::ScopedDiagnosticHandler handler;
  std::string diagnostics;
};

} // namespace moe_test

#endif // MOE_TEST_UNIT_TESTUTILS_H
