//===- SafeOutput.cpp - output files that never destroy on failure --------===//

#include "moe/Target/SafeOutput.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"

using namespace mlir::moe;

std::optional<std::string> mlir::moe::uniqueSibling(llvm::StringRef path,
                                                    std::string &error) {
  llvm::SmallString<128> model(path);
  model += ".%%%%%%%%.tmp";
  llvm::SmallString<128> unique;
  int fd = -1;
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(model, fd, unique)) {
    error = "cannot create a temporary beside '" + path.str() +
            "': " + ec.message();
    return std::nullopt;
  }
  llvm::sys::Process::SafelyCloseFileDescriptor(fd);
  return std::string(unique);
}

bool mlir::moe::isSpecialFile(llvm::StringRef path) {
  llvm::sys::fs::file_status status;
  using llvm::sys::fs::file_type;
  // (A directory is an error where the rename reports it.)
  return !llvm::sys::fs::status(path, status) &&
         status.type() != file_type::regular_file &&
         status.type() != file_type::directory_file &&
         status.type() != file_type::file_not_found;
}

std::unique_ptr<SafeOutput> SafeOutput::open(llvm::StringRef path,
                                             std::string &error) {
  std::unique_ptr<SafeOutput> out(new SafeOutput());
  out->target = path.str();
  if (path == "-") {
    out->temp = path;
    return out;
  }
  // A device or FIFO (/dev/null) is written in place: renaming a temporary
  // over it would replace the device with a regular file.
  if (isSpecialFile(path)) {
    out->temp = path;
    out->direct = true;
    std::error_code ec;
    out->stream = std::make_unique<llvm::raw_fd_ostream>(path, ec);
    if (ec) {
      error = "cannot write '" + path.str() + "': " + ec.message();
      return nullptr;
    }
    return out;
  }
  std::optional<std::string> temp = uniqueSibling(path, error);
  if (!temp)
    return nullptr;
  out->temp = *temp;
  std::error_code ec;
  out->stream = std::make_unique<llvm::raw_fd_ostream>(out->temp, ec);
  if (ec) {
    error = "cannot write '" + out->temp.str().str() + "': " + ec.message();
    llvm::sys::fs::remove(out->temp);
    return nullptr;
  }
  return out;
}

bool SafeOutput::commit(std::string &error) {
  done = true;
  if (!stream) {
    llvm::outs().flush();
    return true;
  }
  stream->close();
  std::error_code ec = stream->error();
  if (!ec && !direct)
    ec = llvm::sys::fs::rename(temp, target);
  if (ec) {
    error = "cannot write '" + target + "': " + ec.message();
    stream->clear_error();
    if (!direct)
      llvm::sys::fs::remove(temp);
    return false;
  }
  return true;
}

SafeOutput::~SafeOutput() {
  if (!stream || done)
    return;
  stream->close();
  stream->clear_error();
  if (!direct)
    llvm::sys::fs::remove(temp);
}

bool mlir::moe::sameFile(llvm::StringRef input, llvm::StringRef output) {
  if (input == "-" || output == "-")
    return false;
  bool same = false;
  if (!llvm::sys::fs::equivalent(input, output, same) && same)
    return true;
  llvm::SmallString<128> a(input), b(output);
  llvm::sys::fs::make_absolute(a);
  llvm::sys::fs::make_absolute(b);
  llvm::sys::path::remove_dots(a, /*remove_dot_dot=*/true);
  llvm::sys::path::remove_dots(b, /*remove_dot_dot=*/true);
  return a == b;
}
