/*===- Errors.h - how generated code reports failed run-time checks ------===*
 *
 * Generated code calls moe_runtime_fail when a run-time check fails
 * (moe-convert-asserts-to-runtime). Inside a model's C entry point, which
 * installs a handler with moe_runtime_set_error_handler, it unwinds to that
 * entry point (longjmp), which returns MOE_ERROR_RUNTIME with the message.
 * Checks only run on the calling thread; one that fails on a pool thread,
 * or with no handler installed, prints the message to stderr and aborts.
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_ERRORS_H
#define MOE_RUNTIME_ERRORS_H

#include <setjmp.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Reports a failed check with `message` (copied; at most 255 bytes kept). */
void moe_runtime_fail(const char *message);

/* Why the last failure on the calling thread happened. */
enum { MOE_RUNTIME_CHECK_FAILED = 0, MOE_RUNTIME_OUT_OF_MEMORY = 1 };

/* moe_runtime_fail with a kind (MOE_RUNTIME_OUT_OF_MEMORY: an allocation). */
void moe_runtime_fail_with(int kind, const char *message);

/* The kind of the last failure on the calling thread. */
int moe_runtime_error_kind(void);

/* Where moe_runtime_fail unwinds to on the calling thread (NULL: abort). */
void moe_runtime_set_error_handler(jmp_buf *handler);

/* The calling thread's handler (NULL: none). */
jmp_buf *moe_runtime_get_error_handler(void);

/* The message of the last failure on the calling thread. */
const char *moe_runtime_error_message(void);

#ifdef __cplusplus
}
#endif

#endif /* MOE_RUNTIME_ERRORS_H */
