/*===- errors.c - failed run-time checks of generated code --------------===*
 *
 * The implementation of include/moe/Runtime/Errors.h.
 *
 *===---------------------------------------------------------------------===*/

#include "moe/Runtime/Errors.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static __thread jmp_buf *error_handler;
static __thread char error_message[256];
static __thread int error_kind;

void moe_runtime_set_error_handler(jmp_buf *handler) {
  error_handler = handler;
}

jmp_buf *moe_runtime_get_error_handler(void) { return error_handler; }

const char *moe_runtime_error_message(void) { return error_message; }

int moe_runtime_error_kind(void) { return error_kind; }

void moe_runtime_fail(const char *message) {
  moe_runtime_fail_with(MOE_RUNTIME_CHECK_FAILED, message);
}

void moe_runtime_fail_with(int kind, const char *message) {
  error_kind = kind;
  strncpy(error_message, message, sizeof(error_message) - 1);
  error_message[sizeof(error_message) - 1] = '\0';
  if (error_handler) {
    jmp_buf *handler = error_handler;
    error_handler = NULL;
    longjmp(*handler, 1);
  }
  fprintf(stderr, "moe runtime error: %s\n", error_message);
  fflush(stderr);
  abort();
}
