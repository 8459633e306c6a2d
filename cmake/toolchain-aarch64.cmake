# toolchain-aarch64.cmake: cross-compiles Vectro for AArch64 Linux with Debian's
# gcc-aarch64-linux-gnu, and runs what ctest runs under qemu-user. Used by scripts/test_neon_qemu.sh:
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake
#
# The binaries are linked dynamically (like a real aarch64 build) and run as
# `qemu-aarch64 -L <sysroot> test_vectro`: -L tells qemu where the aarch64 loader and libc are, so
# no binfmt_misc registration (often missing in containers and CI runners) is needed. A static link
# would avoid -L too, but it would no longer test the shared-library build, and glibc warns about
# static linking of some of what the engine uses.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(VECTRO_CROSS_PREFIX "aarch64-linux-gnu-" CACHE STRING "Prefix of the cross tools")
set(VECTRO_CROSS_SYSROOT "/usr/aarch64-linux-gnu" CACHE PATH
    "aarch64 libraries for qemu -L (Debian's libc6-arm64-cross)")
set(CMAKE_C_COMPILER ${VECTRO_CROSS_PREFIX}gcc)

# Find headers and libraries in the target's paths only, programs on the host.
set(CMAKE_FIND_ROOT_PATH ${VECTRO_CROSS_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

find_program(VECTRO_QEMU_AARCH64 NAMES qemu-aarch64 qemu-aarch64-static)
if(VECTRO_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VECTRO_QEMU_AARCH64} -L ${VECTRO_CROSS_SYSROOT})
endif()
