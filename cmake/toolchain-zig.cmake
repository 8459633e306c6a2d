# toolchain-zig.cmake: builds Vectro with Zig's bundled clang and glibc stubs (PyPI `ziglang`) for
# $VECTRO_ZIG_TARGET, e.g. x86_64-linux-gnu.2.17 or aarch64-linux-gnu.2.17: binaries that need no
# newer glibc than 2.17, i.e. manylinux2014 wheels, from any Linux host and offline. Used by
# scripts/build_wheels.sh; VECTRO_ZIG_PYTHON names the Python that has ziglang installed.
if(NOT DEFINED ENV{VECTRO_ZIG_TARGET})
  message(FATAL_ERROR "toolchain-zig.cmake: set VECTRO_ZIG_TARGET (e.g. x86_64-linux-gnu.2.17)")
endif()
string(REGEX MATCH "^[^-]+" _zig_arch "$ENV{VECTRO_ZIG_TARGET}")
cmake_host_system_information(RESULT _host_arch QUERY OS_PLATFORM)
if(NOT _zig_arch STREQUAL _host_arch)
  set(CMAKE_SYSTEM_NAME Linux) # a cross build: CMake must not run what it builds
  set(CMAKE_SYSTEM_PROCESSOR ${_zig_arch})
endif()
set(CMAKE_C_COMPILER ${CMAKE_CURRENT_LIST_DIR}/zig/zig-cc)
set(CMAKE_AR ${CMAKE_CURRENT_LIST_DIR}/zig/zig-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${CMAKE_CURRENT_LIST_DIR}/zig/zig-ranlib CACHE FILEPATH "")
