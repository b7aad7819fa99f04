//===- ModelLoader.cpp - binary and textual ONNX parsing ------------------===//

#include "ModelLoader.h"

#include "onnx/defs/parser.h"

#include <google/protobuf/io/coded_stream.h>

#include <climits>
#include <exception>

bool mlir::moe::detail::parseModel(const char *bytes, size_t size, bool text,
                                   ::onnx::ModelProto &model,
                                   std::string &error) {
  if (!text) {
    if (size > static_cast<size_t>(INT_MAX)) {
      error = "the file is larger than 2 GiB; store the weights as external "
              "data";
      return false;
    }
    google::protobuf::io::CodedInputStream stream(
        reinterpret_cast<const uint8_t *>(bytes), static_cast<int>(size));
    stream.SetTotalBytesLimit(INT_MAX);
    if (!model.ParseFromCodedStream(&stream) ||
        !stream.ConsumedEntireMessage()) {
      error = "not a valid ONNX protobuf (truncated or corrupt file)";
      return false;
    }
    return true;
  }
  // The text parser reads a NUL-terminated string.
  std::string source(bytes, size);
  try {
    onnx::Status status = onnx::OnnxParser::Parse(model, source.c_str());
    if (!status.IsOK()) {
      error = status.ErrorMessage();
      return false;
    }
  } catch (const std::exception &e) {
    error = e.what();
    return false;
  } catch (...) {
    error = "the ONNX text parser failed";
    return false;
  }
  return true;
}
