//===- MoEAttrs.cpp - routing and activation attributes -------------------===//
//
// Custom syntax and verification of #moe.routing and #moe.activation. The
// syntax is keyword-based so that defaults can be omitted and each setting
// reads as what it means.
//
//===----------------------------------------------------------------------===//

#include "moe/Dialect/MoE.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cstdio>
#include <cstdlib>

using namespace mlir;
using namespace mlir::moe;

#include "dialects/moe/MoEEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/moe/MoEAttrs.cpp.inc"

namespace {
/// Shortest decimal form that reads back as the same double, always with a
/// decimal point or exponent so the parser sees a float ("1.702", "7.0",
/// "1.0e-05").
std::string formatFloat(const APFloat &value) {
  if (!value.isFinite()) {
    SmallString<8> text;
    value.toString(text);
    return std::string(text);
  }
  double d = value.convertToDouble();
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d)
      break;
  }
  std::string text(buf);
  size_t exp = text.find('e');
  if (text.find('.') == std::string::npos)
    text.insert(exp == std::string::npos ? text.size() : exp, ".0");
  return text;
}

/// Parses `<first, key = value, flag, ...>`: `parseFirst` reads the leading
/// positional keyword, `parseEntry` one `key[ = value]` entry (the key already
/// consumed). Each key may appear once.
ParseResult parseKeywordList(
    AsmParser &parser, function_ref<ParseResult()> parseFirst,
    function_ref<ParseResult(StringRef key, SMLoc loc)> parseEntry) {
  if (parser.parseLess() || parseFirst())
    return failure();
  llvm::StringSet<> seen;
  while (succeeded(parser.parseOptionalComma())) {
    SMLoc loc = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key))
      return failure();
    if (!seen.insert(key).second)
      return parser.emitError(loc) << "'" << key << "' given twice";
    if (parseEntry(key, loc))
      return failure();
  }
  return parser.parseGreater();
}

ParseResult parseFloatValue(AsmParser &parser, APFloat &value) {
  double d;
  if (parser.parseEqual() || parser.parseFloat(d))
    return failure();
  value = APFloat(d);
  return success();
}

ParseResult parseIntValue(AsmParser &parser, int64_t &value) {
  return failure(parser.parseEqual() || parser.parseInteger(value));
}

template <typename EnumT>
ParseResult parseEnumKeyword(AsmParser &parser, EnumT &value,
                             std::optional<EnumT> (*symbolize)(StringRef),
                             StringRef what) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef word;
  if (parser.parseKeyword(&word))
    return failure();
  std::optional<EnumT> parsed = symbolize(word);
  if (!parsed)
    return parser.emitError(loc) << "unknown " << what << " '" << word << "'";
  value = *parsed;
  return success();
}
} // namespace

//===----------------------------------------------------------------------===//
// #moe.routing
//===----------------------------------------------------------------------===//

Attribute RoutingAttr::parse(AsmParser &parser, Type) {
  Scoring scoring = Scoring::softmax;
  std::optional<int64_t> k;
  bool renormalize = false;
  int64_t groups = 1, topkGroups = 1;
  GroupScore groupScore = GroupScore::top2_sum;
  APFloat scale(1.0);
  APFloat masked = APFloat::getInf(APFloat::IEEEdouble(), /*Negative=*/true);
  APFloat gap(0.0);
  SMLoc start = parser.getCurrentLocation();

  auto parseFirst = [&] {
    return parseEnumKeyword(parser, scoring, symbolizeScoring, "scoring");
  };
  auto parseEntry = [&](StringRef key, SMLoc loc) -> ParseResult {
    if (key == "renormalize") {
      renormalize = true;
      return success();
    }
    if (key == "k") {
      int64_t value;
      if (parseIntValue(parser, value))
        return failure();
      k = value;
      return success();
    }
    if (key == "groups")
      return parseIntValue(parser, groups);
    if (key == "topk_groups")
      return parseIntValue(parser, topkGroups);
    if (key == "scale")
      return parseFloatValue(parser, scale);
    if (key == "masked_score")
      return parseFloatValue(parser, masked);
    if (key == "gap")
      return parseFloatValue(parser, gap);
    if (key == "group_score")
      return failure(parser.parseEqual() ||
                     parseEnumKeyword(parser, groupScore, symbolizeGroupScore,
                                      "group score"));
    return parser.emitError(loc)
           << "unknown routing setting '" << key
           << "' (expected k, renormalize, groups, topk_groups, group_score, "
              "scale, masked_score or gap)";
  };
  if (parseKeywordList(parser, parseFirst, parseEntry))
    return {};
  if (!k) {
    parser.emitError(start) << "routing needs 'k = <experts per token>'";
    return {};
  }
  return getChecked([&] { return parser.emitError(start); },
                    parser.getContext(), scoring, *k, renormalize, groups,
                    topkGroups, groupScore, scale, masked, gap);
}

void RoutingAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyScoring(getScoring()) << ", k = " << getK();
  if (getRenormalize())
    printer << ", renormalize";
  if (getGroups() != 1)
    printer << ", groups = " << getGroups();
  if (getTopkGroups() != 1)
    printer << ", topk_groups = " << getTopkGroups();
  if (getGroupScore() != GroupScore::top2_sum)
    printer << ", group_score = " << stringifyGroupScore(getGroupScore());
  if (!getScale().isExactlyValue(1.0))
    printer << ", scale = " << formatFloat(getScale());
  if (!getMaskedScore().isInfinity() || !getMaskedScore().isNegative())
    printer << ", masked_score = " << formatFloat(getMaskedScore());
  if (!getGap().isZero())
    printer << ", gap = " << formatFloat(getGap());
  printer << ">";
}

LogicalResult RoutingAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                                  Scoring scoring, int64_t k, bool,
                                  int64_t groups, int64_t topkGroups,
                                  GroupScore, APFloat scale, APFloat masked,
                                  APFloat gap) {
  if (k < 1)
    return emitError() << "routing k must be at least 1, got " << k;
  if (groups < 1)
    return emitError() << "routing groups must be at least 1, got " << groups;
  if (topkGroups < 1 || topkGroups > groups)
    return emitError() << "topk_groups must be in [1, groups = " << groups
                       << "], got " << topkGroups;
  if (!scale.isFiniteNonZero() || scale.isNegative())
    return emitError() << "routing scale must be finite and positive, got "
                       << formatFloat(scale);
  if (masked.isNaN() || (masked.isInfinity() && !masked.isNegative()))
    return emitError() << "routing masked_score must be finite or -inf, got "
                       << formatFloat(masked);
  if (!gap.isFinite() || gap.isNegative())
    return emitError() << "routing gap must be finite and non-negative, got "
                       << formatFloat(gap);
  if (!gap.isZero() && scoring != Scoring::sparsemixer)
    return emitError() << "routing gap applies to sparsemixer scoring only";
  if (scoring == Scoring::sparsemixer && groups != 1)
    return emitError() << "sparsemixer routing takes no expert groups";
  return success();
}

LogicalResult
RoutingAttr::verifyForExperts(function_ref<InFlightDiagnostic()> emitError,
                              int64_t numExperts, bool hasBias) const {
  if (hasBias && getScoring() == Scoring::sparsemixer)
    return emitError() << "sparsemixer routing takes no selection bias";
  if (getK() > numExperts)
    return emitError() << "k = " << getK() << " exceeds the number of experts ("
                       << numExperts << ")";
  if (numExperts % getGroups() != 0)
    return emitError() << "the " << numExperts
                       << " experts cannot be split into " << getGroups()
                       << " equal groups";
  int64_t groupSize = getGroupSize(numExperts);
  if (getGroups() > 1 && getGroupScore() == GroupScore::top2_sum &&
      groupSize < 2)
    return emitError() << "group_score = top2_sum needs at least 2 experts "
                          "per group, got "
                       << groupSize;
  if (getK() > getTopkGroups() * groupSize)
    return emitError() << "k = " << getK() << " exceeds the "
                       << getTopkGroups() * groupSize
                       << " experts in the selected groups";
  return success();
}

//===----------------------------------------------------------------------===//
// #moe.activation
//===----------------------------------------------------------------------===//

Attribute ActivationAttr::parse(AsmParser &parser, Type) {
  ActivationKind kind = ActivationKind::identity;
  Gating gating = Gating::none;
  APFloat alpha(1.0), beta(0.0);
  APFloat limit = APFloat::getInf(APFloat::IEEEdouble());
  SMLoc start = parser.getCurrentLocation();

  auto parseFirst = [&] {
    return parseEnumKeyword(parser, kind, symbolizeActivationKind,
                            "activation");
  };
  auto parseEntry = [&](StringRef key, SMLoc loc) -> ParseResult {
    if (key == "gated")
      return failure(
          parser.parseEqual() ||
          parseEnumKeyword(parser, gating, symbolizeGating, "gating"));
    if (key == "alpha")
      return parseFloatValue(parser, alpha);
    if (key == "beta")
      return parseFloatValue(parser, beta);
    if (key == "limit")
      return parseFloatValue(parser, limit);
    return parser.emitError(loc) << "unknown activation setting '" << key
                                 << "' (expected gated, alpha, beta or limit)";
  };
  if (parseKeywordList(parser, parseFirst, parseEntry))
    return {};
  return getChecked([&] { return parser.emitError(start); },
                    parser.getContext(), kind, gating, alpha, beta, limit);
}

void ActivationAttr::print(AsmPrinter &printer) const {
  printer << "<" << stringifyActivationKind(getKind());
  if (isGated())
    printer << ", gated = " << stringifyGating(getGating());
  if (!getAlpha().isExactlyValue(1.0))
    printer << ", alpha = " << formatFloat(getAlpha());
  if (!getBeta().isZero())
    printer << ", beta = " << formatFloat(getBeta());
  if (!getLimit().isInfinity())
    printer << ", limit = " << formatFloat(getLimit());
  printer << ">";
}

LogicalResult
ActivationAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                       ActivationKind kind, Gating gating, APFloat alpha,
                       APFloat beta, APFloat limit) {
  if (!alpha.isFinite() || !beta.isFinite())
    return emitError() << "activation alpha and beta must be finite";
  if (!alpha.isExactlyValue(1.0) && kind != ActivationKind::silu)
    return emitError() << "alpha only applies to silu, not "
                       << stringifyActivationKind(kind);
  bool limited = !limit.isInfinity() || limit.isNegative();
  if (gating == Gating::none && (!beta.isZero() || limited))
    return emitError() << "beta and limit only apply to gated activations";
  if (limit.isNaN() || limit.isNegative() || limit.isZero())
    return emitError() << "activation limit must be positive, got "
                       << formatFloat(limit);
  return success();
}

void MoEDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/moe/MoEAttrs.cpp.inc"
      >();
}
