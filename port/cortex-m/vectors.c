/*
 * vectors.c - the Cortex-M vector table for the bare-metal test programs
 * (qemu-system-arm mps2-an385 / mps2-an386, newlib rdimon semihosting).
 *
 * newlib's rdimon crt0 (_start) sets up the stack and heap through the
 * SYS_HEAPINFO semihosting call but has no vector table, so this file
 * supplies the minimal one a Cortex-M core needs to boot: the initial stack
 * pointer and the reset handler. Every fault ends the program with exit
 * status 99, so a test that faults fails under ctest instead of hanging.
 * The linker puts .vectors at address 0 (-Wl,--section-start=.vectors=0)
 * and keeps it with -Wl,-u,vectors (see cmake/arm-cortex-m3.cmake).
 *
 * A real board's startup file comes from its SDK; docs/porting.md explains
 * what mpgc needs from it (nothing beyond a C stack and static memory).
 */
#include <stdint.h>
#include <stdlib.h>

extern void _start(void); /* newlib rdimon crt0 */

/* mps2: the top of the 4 MiB SRAM at 0x20000000. crt0 moves the stack to
 * what SYS_HEAPINFO reports, this is only the stack until then. */
#define INITIAL_SP 0x20400000u

static void fault(void) { _Exit(99); }

/* On the M4F the FPU is off at reset and the first floating-point
 * instruction (newlib's printf has some) would fault: grant CP10/CP11 full
 * access in CPACR first. HAVE_FPU is 0 on cores without an FPU,
 * so the write is compiled out there. */
#if defined(__ARM_FP)
#define HAVE_FPU 1
#else
#define HAVE_FPU 0
#endif
#define CPACR (*(volatile uint32_t *)0xE000ED88u)

static void reset(void) {
    if (HAVE_FPU) {
        CPACR |= 0xFu << 20;
        __asm__ volatile("dsb\n\tisb" ::: "memory");
    }
    _start();
}

/* Initial SP, Reset, NMI, HardFault, MemManage, BusFault, UsageFault,
 * 4 reserved, SVCall, DebugMon, reserved, PendSV, SysTick. */
__attribute__((section(".vectors"), used)) void (*const vectors[16])(void) = {
    (void (*)(void))INITIAL_SP, reset, fault, fault, fault, fault, fault,
    0, 0, 0, 0, fault, fault, 0, fault, fault};
