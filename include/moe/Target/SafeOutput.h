//===- SafeOutput.h - output files that never destroy on failure -*- C++ -*-===//
//
// Compiler outputs are written to a unique temporary beside the target and
// renamed over it only on success: a failed compile leaves an existing file
// untouched, two concurrent compiles never share a temporary, and nothing
// is left behind. Devices and FIFOs (-o /dev/null) are written in place.
//
//===----------------------------------------------------------------------===//

#ifndef MOE_TARGET_SAFEOUTPUT_H
#define MOE_TARGET_SAFEOUTPUT_H

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <optional>
#include <string>

namespace mlir::moe {

/// An output stream for `path` ("-": stdout, written directly).
class SafeOutput {
public:
  /// Opens a unique temporary beside `path`; null with `error` set when it
  /// cannot be created.
  static std::unique_ptr<SafeOutput> open(llvm::StringRef path,
                                          std::string &error);
  ~SafeOutput();

  llvm::raw_fd_ostream &os() { return stream ? *stream : llvm::outs(); }
  /// The temporary's path (the target for "-").
  llvm::StringRef tempPath() const { return temp; }
  /// Flushes and renames the temporary over the target; false with `error`
  /// set (the temporary removed) when that fails.
  bool commit(std::string &error);

private:
  SafeOutput() = default;
  std::string target;
  llvm::SmallString<128> temp;
  std::unique_ptr<llvm::raw_fd_ostream> stream;
  bool done = false;
  bool direct = false; // a device or FIFO, written in place
};

/// Whether `path` exists and is neither a regular file nor a directory (a
/// device such as /dev/null, a FIFO): outputs are written into it in place,
/// never renamed over it.
bool isSpecialFile(llvm::StringRef path);

/// A unique, not yet existing path beside `path` (same directory, so a
/// rename over `path` is atomic) for a tool to write; nullopt with `error`.
std::optional<std::string> uniqueSibling(llvm::StringRef path,
                                         std::string &error);

/// Whether `output` names the same file as `input` (an existing file, or
/// the same path).
bool sameFile(llvm::StringRef input, llvm::StringRef output);

} // namespace mlir::moe

#endif // MOE_TARGET_SAFEOUTPUT_H
