/*===- fiber.c - switching between emulated GPU threads ------------------===*
 *
 * A switch saves the callee-saved registers and the floating-point control
 * words on the current stack and continues on another one: a few
 * nanoseconds, where swapcontext makes a system call for the signal mask.
 * A barrier anywhere in a kernel is then simply a switch to the scheduler.
 *
 *===---------------------------------------------------------------------===*/

#include "emulator.h"

#include <string.h>

#if !defined(__x86_64__)
#error "the CUDA emulator's fibers are written for x86-64"
#endif

/* emu_switch(save, load): rdi = where to save this stack pointer, rsi = the
 * stack pointer to continue on. Frame: 6 saved registers, then MXCSR and
 * the x87 control word in one 8-byte slot. */
__asm__(".text\n"
        ".globl emu_switch\n"
        ".hidden emu_switch\n"
        ".type emu_switch,@function\n"
        "emu_switch:\n"
        "  pushq %rbp\n"
        "  pushq %rbx\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  subq $8, %rsp\n"
        "  stmxcsr (%rsp)\n"
        "  fnstcw 4(%rsp)\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  ldmxcsr (%rsp)\n"
        "  fldcw 4(%rsp)\n"
        "  addq $8, %rsp\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbx\n"
        "  popq %rbp\n"
        "  ret\n"
        ".size emu_switch, .-emu_switch\n");

void emu_fiber_init(emu_fiber *f, void (*start)(void)) {
  /* The first switch "returns" into start with the stack as after a call
   * (rsp + 8 aligned to 16). */
  uintptr_t top = ((uintptr_t)f->stack_hi & ~(uintptr_t)15) - 16;
  uint64_t *frame = (uint64_t *)top;
  frame[1] = 0; /* start's return address: never used */
  frame[0] = (uint64_t)(uintptr_t)start;
  memset(frame - 6, 0, 6 * sizeof(uint64_t));
  uint32_t *controls = (uint32_t *)(frame - 7);
  controls[0] = 0x1f80; /* MXCSR: round to nearest, masked */
  controls[1] = 0x037f; /* x87: extended precision, masked */
  f->sp = frame - 7;
  f->state = FIBER_RUN;
}

void emu_yield(int state) {
  emu_exec *x = emu_current;
  emu_fiber *f = x->current;
  f->state = state;
  emu_switch(&f->sp, x->scheduler_sp);
}
