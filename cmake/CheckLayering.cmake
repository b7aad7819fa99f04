# Fails when a source of a pass stage includes a header it has not declared:
# an upstream dialect outside DIALECTS (mlir/Dialect/<X>/...) or another
# stage's private header (<Stage>/...) outside STAGES. libMLIR.so holds every
# upstream dialect, so linking alone cannot keep a stage off NVVM; this does.
#
#   cmake -DSTAGE=Raise -DSOURCES="a.cpp|b.h" -DDIALECTS="Arith|Tensor"
#         -DSTAGES="Utils" -DALL_STAGES="Raise|MoE|..." -DSTAMP=out
#         -P CheckLayering.cmake
cmake_minimum_required(VERSION 3.20)
foreach(list SOURCES DIALECTS STAGES ALL_STAGES)
  string(REPLACE "|" ";" ${list} "${${list}}")
endforeach()
set(errors "")
foreach(src IN LISTS SOURCES)
  file(STRINGS "${src}" includes REGEX "^#include \"")
  foreach(line IN LISTS includes)
    if(line MATCHES "^#include \"mlir/Dialect/([A-Za-z0-9]+)/")
      set(dialect "${CMAKE_MATCH_1}")
      if(NOT dialect IN_LIST DIALECTS)
        string(APPEND errors "  ${src}: includes the ${dialect} dialect, "
               "which stage ${STAGE} does not declare (DIALECTS)\n")
      endif()
    elseif(line MATCHES "^#include \"([A-Za-z0-9]+)/[A-Za-z0-9_]+\\.h\"")
      set(other "${CMAKE_MATCH_1}")
      if(other IN_LIST ALL_STAGES AND NOT other STREQUAL STAGE
         AND NOT other IN_LIST STAGES)
        string(APPEND errors "  ${src}: includes a header of stage ${other}, "
               "which stage ${STAGE} does not declare (STAGES)\n")
      endif()
    endif()
  endforeach()
endforeach()
if(errors)
  message(FATAL_ERROR "layering violations in pass stage ${STAGE}:\n${errors}")
endif()
if(STAMP)
  file(WRITE "${STAMP}" "")
endif()
