# RV32IMAC bare metal (picolibc, semihosting), tests run under
# qemu-system-riscv32 on the virt board, machine mode, no firmware.
#   cmake -S . -B build-rv32 -DCMAKE_TOOLCHAIN_FILE=cmake/riscv32.cmake
# Needs gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc.
set(CMAKE_SYSTEM_NAME Generic)           # not Linux: MPGC_SYSMEM auto -> none
set(CMAKE_SYSTEM_PROCESSOR riscv32)
set(CMAKE_C_COMPILER riscv64-unknown-elf-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_C_FLAGS_INIT "-march=rv32imac -mabi=ilp32 --specs=picolibc.specs")
# picolibc's semihosting crt0 (without it main returns into an endless loop)
# and the virt board's memory: 1 MiB "flash" then 16 MiB RAM at 0x80100000.
set(CMAKE_EXE_LINKER_FLAGS_INIT
    "--crt0=semihost --oslib=semihost -Wl,--defsym=__flash=0x80000000,--defsym=__flash_size=0x100000,--defsym=__ram=0x80100000,--defsym=__ram_size=0x1000000")
# picolibc's crt0 sets up the stack and traps itself: no startup file.
set(MPGC_TEST_STARTUP "")
# Tests run under qemu with semihosting; cmake/qemu-run.sh passes their
# arguments as semihosting argv. CMake prepends the emulator only when a
# test's COMMAND is a bare target name (not $<TARGET_FILE:...>).
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/qemu-run.sh --no-argv0 qemu-system-riscv32 -M virt -bios none --)
