# Cortex-M3 bare metal (newlib, rdimon semihosting), tests run under
# qemu-system-arm on the mps2-an385 board (4 MiB SRAM + 4 MiB + 16 MiB PSRAM).
#   cmake -S . -B build-m3 -DCMAKE_TOOLCHAIN_FILE=cmake/arm-cortex-m3.cmake
# Needs gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm.
set(CMAKE_SYSTEM_NAME Generic)           # not Linux: MPGC_SYSMEM auto -> none
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m3 -mthumb")
# Extra link flags: use target_link_options; -DCMAKE_EXE_LINKER_FLAGS would
# replace these and lose rdimon.specs.
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "--specs=rdimon.specs -Wl,--section-start=.vectors=0 -Wl,-u,vectors")
set(MPGC_TEST_STARTUP ${CMAKE_CURRENT_LIST_DIR}/../port/cortex-m/vectors.c)
# Tests run under qemu with semihosting; cmake/qemu-run.sh passes their
# arguments as semihosting argv. CMake prepends the emulator only when a
# test's COMMAND is a bare target name (not $<TARGET_FILE:...>).
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/qemu-run.sh qemu-system-arm -M mps2-an385 --)
