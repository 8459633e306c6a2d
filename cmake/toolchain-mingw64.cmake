# toolchain-mingw64.cmake: cross-compiles Vectro for 64-bit Windows with Debian's MinGW-w64
# (gcc-mingw-w64-x86-64-posix: the posix-threads variant, whose winpthreads gives the engine its
# pthreads), and runs what ctest runs under Wine. Used by scripts/test_windows_wine.sh:
#   cmake -S . -B build-mingw -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake
#
# Everything is linked statically (libgcc, winpthreads): the .exe files then need no MinGW DLLs
# beside them, under Wine as on a real Windows machine.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(VECTRO_MINGW_PREFIX "x86_64-w64-mingw32-" CACHE STRING "Prefix of the MinGW-w64 tools")
# The -posix compiler: the -win32 variant has no pthreads.
find_program(VECTRO_MINGW_CC NAMES ${VECTRO_MINGW_PREFIX}gcc-posix ${VECTRO_MINGW_PREFIX}gcc REQUIRED)
set(CMAKE_C_COMPILER ${VECTRO_MINGW_CC})
set(CMAKE_RC_COMPILER ${VECTRO_MINGW_PREFIX}windres)
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc -Wl,-Bstatic -lpthread -Wl,-Bdynamic")

set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Debian installs wine64 outside PATH (/usr/lib/wine/wine64) unless the `wine` wrapper is there.
find_program(VECTRO_WINE NAMES wine64 wine PATHS /usr/lib/wine)
if(VECTRO_WINE)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VECTRO_WINE})
endif()
