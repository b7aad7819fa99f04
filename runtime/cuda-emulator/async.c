/*===- async.c - cp.async: copies into shared memory, completed on wait --===*
 *
 * A thread's copies are queued when issued and carried out when it waits
 * for their group (cp.async.wait_group / wait_all), the latest moment the
 * PTX memory model allows. A kernel that reads a stage before waiting for
 * it then reads stale shared memory here, as it may on a GPU, instead of
 * happening to see the data. The source is checked when the copy is
 * issued, the destination when it is written, both as the issuing thread.
 *
 *===---------------------------------------------------------------------===*/

#include "emulator.h"

#include <string.h>

enum { SPACE_GLOBAL = 1, SPACE_SHARED = 3 };

void emu_async_reset(emu_fiber *f) {
  f->async_count = 0;
  f->async_groups = 0;
}

static unsigned log2_of(uint32_t bytes) {
  unsigned l = 0;
  while ((1u << l) < bytes)
    ++l;
  return l;
}

static void complete(const emu_async_copy *c) {
  __moe_emu_access(c->dst, c->bytes,
                   EMU_ACCESS_FLAGS(1, log2_of(c->bytes), SPACE_SHARED));
  if (emu_current->abort_block)
    return;
  memcpy(c->dst, c->src, c->src_bytes);
  memset(c->dst + c->src_bytes, 0, c->bytes - c->src_bytes);
}

/* Completes the calling thread's copies of groups before `groups` (all of
 * them, uncommitted ones too, for UINT32_MAX). */
static void complete_before(uint32_t groups) {
  emu_fiber *f = emu_current->current;
  uint32_t kept = 0;
  for (uint32_t i = 0; i < f->async_count; ++i) {
    if (f->async[i].group < groups)
      complete(&f->async[i]);
    else
      f->async[kept++] = f->async[i];
  }
  f->async_count = kept;
}

static void issue(void *dst, const void *src, uint32_t bytes,
                  int32_t src_bytes) {
  emu_fiber *f = emu_current->current;
  if (src_bytes < 0 || (uint32_t)src_bytes > bytes) {
    emu_report(1,
               "cp.async of %u bytes with a source size of %d: PTX requires "
               "0 to %u",
               bytes, src_bytes, bytes);
    return;
  }
  if (src_bytes)
    __moe_emu_access((void *)src, (uint64_t)src_bytes,
                     EMU_ACCESS_FLAGS(0, log2_of(bytes), SPACE_GLOBAL));
  /* The copy may land as soon as it is issued. */
  emu_exec *x = emu_current;
  uintptr_t at = (uintptr_t)dst - (uintptr_t)x->arena;
  if (x->wgmma_read_count && at < x->arena_bytes)
    emu_wgmma_check_write(x, at, bytes, "a cp.async");
  /* A full queue: the oldest copy completes now, which a GPU may do too. */
  if (f->async_count == EMU_MAX_ASYNC_COPIES) {
    complete(&f->async[0]);
    memmove(f->async, f->async + 1,
            (EMU_MAX_ASYNC_COPIES - 1) * sizeof(emu_async_copy));
    --f->async_count;
  }
  emu_async_copy *c = &f->async[f->async_count++];
  c->dst = dst;
  c->src = src;
  c->bytes = bytes;
  c->src_bytes = (uint32_t)src_bytes;
  c->group = f->async_groups;
}

#define CP_ASYNC(cache, size)                                                  \
  void __moe_emu_cp_async_##cache##_shared_global_##size(void *dst,            \
                                                         const void *src) {    \
    issue(dst, src, size, size);                                               \
  }                                                                            \
  void __moe_emu_cp_async_##cache##_shared_global_##size##_s(                  \
      void *dst, const void *src, int32_t src_bytes) {                         \
    issue(dst, src, size, src_bytes);                                          \
  }

CP_ASYNC(ca, 4)
CP_ASYNC(ca, 8)
CP_ASYNC(ca, 16)
CP_ASYNC(cg, 16)

void __moe_emu_cp_async_commit_group(void) {
  ++emu_current->current->async_groups;
}

void __moe_emu_cp_async_wait_group(int32_t n) {
  uint32_t groups = emu_current->current->async_groups;
  complete_before(n < 0 || (uint32_t)n >= groups ? 0 : groups - (uint32_t)n);
}

void __moe_emu_cp_async_wait_all(void) { complete_before(UINT32_MAX); }
