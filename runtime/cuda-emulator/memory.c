/*===- memory.c - device allocations and the checks of every access ------===*
 *
 * Kernels may touch the buffers the driver allocated (and the globals of
 * their own image), their block's shared memory and their own stack.
 * Everything else is an out-of-bounds access. Shared memory is checked
 * further: alignment against what the IR promised, reads of bytes no thread
 * of the block wrote, and races: two threads touching a byte in the same
 * barrier interval, at least one writing, unless both are atomic or they
 * are lanes of one warp separated by a warp collective.
 *
 *===---------------------------------------------------------------------===*/

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "emulator.h"

#include <dlfcn.h>

#include <stdlib.h>
#include <string.h>

static pthread_mutex_t regions_lock = PTHREAD_MUTEX_INITIALIZER;
static emu_region *regions;
static size_t region_count, region_capacity;

int emu_register(void *start, size_t bytes) {
  pthread_mutex_lock(&regions_lock);
  if (region_count == region_capacity) {
    size_t capacity = region_capacity ? 2 * region_capacity : 64;
    emu_region *grown = realloc(regions, capacity * sizeof(emu_region));
    if (!grown) {
      pthread_mutex_unlock(&regions_lock);
      return 0;
    }
    regions = grown;
    region_capacity = capacity;
  }
  uintptr_t s = (uintptr_t)start;
  size_t at = region_count;
  while (at > 0 && regions[at - 1].start > s) {
    regions[at] = regions[at - 1];
    --at;
  }
  regions[at].start = s;
  regions[at].end = s + bytes;
  ++region_count;
  pthread_mutex_unlock(&regions_lock);
  return 1;
}

static size_t find(uintptr_t s) {
  size_t lo = 0, hi = region_count;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (regions[mid].start < s)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

long long emu_unregister(void *start) {
  pthread_mutex_lock(&regions_lock);
  size_t at = find((uintptr_t)start);
  long long bytes = -1;
  if (at < region_count && regions[at].start == (uintptr_t)start) {
    bytes = (long long)(regions[at].end - regions[at].start);
    memmove(&regions[at], &regions[at + 1],
            (region_count - at - 1) * sizeof(emu_region));
    --region_count;
  }
  pthread_mutex_unlock(&regions_lock);
  return bytes;
}

/* The region of sorted `list` holding [a, a + bytes), or NULL. */
static const emu_region *containing(const emu_region *list, size_t count,
                                    uintptr_t a, uint64_t bytes) {
  size_t lo = 0, hi = count;
  while (lo < hi) { /* the last region starting at or before a */
    size_t mid = (lo + hi) / 2;
    if (list[mid].start <= a)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0 || a + bytes > list[lo - 1].end)
    return NULL;
  return &list[lo - 1];
}

int emu_is_device_range(uintptr_t a, uint64_t bytes) {
  pthread_mutex_lock(&regions_lock);
  int inside = containing(regions, region_count, a, bytes) != NULL;
  pthread_mutex_unlock(&regions_lock);
  return inside;
}

int emu_regions_snapshot(emu_region **out, size_t *count) {
  pthread_mutex_lock(&regions_lock);
  *out = malloc((region_count + 1) * sizeof(emu_region));
  if (*out)
    memcpy(*out, regions, region_count * sizeof(emu_region));
  *count = region_count;
  pthread_mutex_unlock(&regions_lock);
  return *out != NULL;
}

static const emu_region *region_of(emu_exec *x, uintptr_t a, uint64_t bytes) {
  const emu_region *r = x->last_region;
  if (r && a >= r->start && a + bytes <= r->end)
    return r;
  r = containing(x->launch->regions, x->launch->region_count, a, bytes);
  if (r)
    x->last_region = r;
  return r;
}

static void describe_miss(emu_exec *x, uintptr_t a, uint64_t bytes, int write) {
  emu_launch *l = x->launch;
  const emu_region *near = NULL;
  Dl_info host;
  for (size_t i = 0; i < l->region_count; ++i)
    if (l->regions[i].start <= a)
      near = &l->regions[i];
  if (near && a < near->end + 4096)
    emu_report(1,
               "out of bounds global %s of %llu bytes at offset %lld of "
               "a %llu-byte buffer",
               write ? "write" : "read", (unsigned long long)bytes,
               (long long)(a - near->start),
               (unsigned long long)(near->end - near->start));
  else if (dladdr((void *)a, &host) && host.dli_fname)
    /* Host memory a GPU could not read: say what it is. */
    emu_report(1,
               "out of bounds global %s of %llu bytes at %p: host memory "
               "of %s%s%s, not a device buffer",
               write ? "write" : "read", (unsigned long long)bytes, (void *)a,
               host.dli_fname, host.dli_sname ? ", near " : "",
               host.dli_sname ? host.dli_sname : "");
  else
    emu_report(1,
               "out of bounds global %s of %llu bytes at %p, outside "
               "every device buffer",
               write ? "write" : "read", (unsigned long long)bytes, (void *)a);
}

static void check_shared(emu_exec *x, uintptr_t offset, uint64_t bytes,
                         unsigned flags) {
  int write = flags & 1, atomic = (flags >> 1) & 1;
  emu_fiber *f = x->current;
  uint16_t me = (uint16_t)f->linear;
  emu_warp *warp = &x->warps[f->linear / 32];
  for (uint64_t i = 0; i < bytes; ++i) {
    emu_shadow *s = &x->shadow[offset + i];
    int same_warp_w = s->writer / 32 == me / 32 && s->write_sync != warp->syncs;
    if (s->written && s->write_epoch == x->epoch && s->writer != me &&
        !(atomic && s->atomic) && !same_warp_w) {
      emu_report(0,
                 "shared-memory race: %s of byte %llu, written by thread "
                 "%u in the same barrier interval",
                 write ? "write" : "read", (unsigned long long)(offset + i),
                 s->writer);
      return;
    }
    if (write) {
      int same_warp_r = s->reader != 0xffff && s->reader / 32 == me / 32 &&
                        s->read_sync != warp->syncs;
      if (s->read_epoch == x->epoch && (s->reader != me) && !same_warp_r &&
          !atomic) {
        emu_report(0,
                   "shared-memory race: write of byte %llu, read by "
                   "thread %s%u in the same barrier interval",
                   (unsigned long long)(offset + i),
                   s->reader == 0xffff ? "(several) " : "",
                   s->reader == 0xffff ? 0u : s->reader);
        return;
      }
      s->written = 1;
      s->atomic = (uint8_t)atomic;
      s->writer = me;
      s->write_epoch = x->epoch;
      s->write_sync = warp->syncs;
    } else {
      if (!s->written) {
        emu_report(0,
                   "read of uninitialized shared memory (byte %llu of "
                   "%llu)",
                   (unsigned long long)(offset + i),
                   (unsigned long long)x->arena_bytes);
        return;
      }
      if (s->read_epoch == x->epoch && s->reader != me)
        s->reader = 0xffff;
      else
        s->reader = me;
      s->read_epoch = x->epoch;
      s->read_sync = warp->syncs;
    }
  }
}

void __moe_emu_access(void *pointer, uint64_t bytes, uint32_t flags) {
  emu_exec *x = emu_current;
  uintptr_t a = (uintptr_t)pointer;
  unsigned align = 1u << ((flags >> 4) & 0xff);
  if (bytes == 0)
    return;
  if (a % align)
    emu_report(0,
               "misaligned %s: %llu bytes at an address %llu modulo %u, "
               "where the IR promises %u-byte alignment (%s memory)",
               flags & 1 ? "write" : "read", (unsigned long long)bytes,
               (unsigned long long)(a % align), align, align,
               a - (uintptr_t)x->arena < x->arena_bytes ? "shared" : "global");
  if (a - (uintptr_t)x->arena < x->arena_bytes) {
    if (a + bytes > (uintptr_t)x->arena + x->arena_bytes) {
      emu_report(1,
                 "out of bounds shared-memory access of %llu bytes at "
                 "offset %llu of %llu",
                 (unsigned long long)bytes,
                 (unsigned long long)(a - (uintptr_t)x->arena),
                 (unsigned long long)x->arena_bytes);
      return;
    }
    if ((flags & 1) && x->wgmma_read_count)
      emu_wgmma_check_write(x, a - (uintptr_t)x->arena, bytes, "a write");
    check_shared(x, a - (uintptr_t)x->arena, bytes, flags);
    return;
  }
  if (((flags >> 12) & 0xf) == 3) {
    /* A shared address past the block's shared memory (static, then the
     * launch's dynamic bytes). */
    emu_report(1,
               "out of bounds shared-memory access of %llu bytes at "
               "offset %lld of %llu",
               (unsigned long long)bytes,
               (long long)(a - (uintptr_t)x->arena),
               (unsigned long long)x->arena_bytes);
    return;
  }
  emu_fiber *f = x->current;
  if (a >= (uintptr_t)f->stack_lo && a + bytes <= (uintptr_t)f->stack_hi)
    return;
  if (!region_of(x, a, bytes))
    describe_miss(x, a, bytes, flags & 1);
}

void *__moe_emu_shared_base(void) { return emu_current->arena; }

void *__moe_emu_dynamic_shared_base(void) {
  return emu_current->arena + emu_current->dynamic_offset;
}
