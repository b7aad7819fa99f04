# `cpack -G DEB` in the build tree: a Debian package of the install tree
# (prefix /usr). Depends lists the packages of every library the installed
# binaries load directly (test/Build/deb.test checks that against the
# binaries' NEEDED entries) and the C compiler moe-opt links models with.
set(CPACK_PACKAGE_NAME moe-compiler)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "moe-compiler")
set(CPACK_PACKAGE_CONTACT "moe-compiler maintainers <moe-compiler@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "MLIR compiler for Mixture-of-Experts models (ONNX in, native code out)")
set(CPACK_PACKAGE_DESCRIPTION
    "moe-opt compiles ONNX Mixture-of-Experts models to shared libraries with a C ABI (CPU, and CUDA where a toolkit is installed); moe-run runs them. Includes the runtime (static and shared), its C headers, a CMake package with moe_add_model(), and the Python package 'moe'.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libllvm22 (>= 1:22.1), libmlir-22 (>= 1:22.1), libonnx1 (>= 1.12), libprotobuf32, libstdc++6, libgcc-s1, libc6, gcc | c-compiler, libc6-dev | libc-dev")
# The shared runtime links the MPI library it was built with (Open MPI's
# libopenmpi3 on Debian 12); ask dpkg which package that is.
if(MPI_C_FOUND)
  foreach(lib ${MPI_C_LIBRARIES})
    get_filename_component(real "${lib}" REALPATH)
    execute_process(COMMAND dpkg -S "${real}" OUTPUT_VARIABLE owner
                    ERROR_QUIET RESULT_VARIABLE rc)
    if(rc EQUAL 0)
      string(REGEX REPLACE "[:\n].*" "" owner "${owner}")
      string(APPEND CPACK_DEBIAN_PACKAGE_DEPENDS ", ${owner}")
    endif()
  endforeach()
endif()
# The Python package needs NumPy; sharded models link MPI.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "python3, python3-numpy")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libopenmpi-dev, python3-ml-dtypes")
include(CPack)
