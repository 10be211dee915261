# Cortex-M4F bare metal, hard-float ABI (newlib, rdimon semihosting), tests
# run under qemu-system-arm on the mps2-an386 board.
#   cmake -S . -B build-m4f -DCMAKE_TOOLCHAIN_FILE=cmake/arm-cortex-m4f.cmake
# Needs gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm.
# port/cortex-m/vectors.c enables the FPU before crt0 runs.
set(CMAKE_SYSTEM_NAME Generic)           # not Linux: MPGC_SYSMEM auto -> none
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16")
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "--specs=rdimon.specs -Wl,--section-start=.vectors=0 -Wl,-u,vectors")
set(MPGC_TEST_STARTUP ${CMAKE_CURRENT_LIST_DIR}/../port/cortex-m/vectors.c)
# Tests run under qemu with semihosting; cmake/qemu-run.sh passes their
# arguments as semihosting argv. CMake prepends the emulator only when a
# test's COMMAND is a bare target name (not $<TARGET_FILE:...>).
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/qemu-run.sh qemu-system-arm -M mps2-an386 --)
