/*===- weights.c - weights files mapped at load time --------------------===*
 *
 * The implementation of include/moe/Runtime/Weights.h.
 *
 *===---------------------------------------------------------------------===*/

#include "moe/Runtime/Weights.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t read_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = v << 8 | p[i];
  return v;
}

const void *moe_runtime_map_weights(const char *path, uint64_t size,
                                    uint64_t hash, char *error,
                                    size_t error_size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(error, error_size, "cannot open weights file '%s': %s", path,
             strerror(errno));
    return NULL;
  }
  struct stat st;
  unsigned char header[MOE_WEIGHTS_HEADER_BYTES];
  const char *why = NULL;
  if (fstat(fd, &st) != 0)
    why = strerror(errno);
  else if ((uint64_t)st.st_size < MOE_WEIGHTS_HEADER_BYTES ||
           pread(fd, header, sizeof(header), 0) != (ssize_t)sizeof(header) ||
           memcmp(header, MOE_WEIGHTS_MAGIC, 8) != 0)
    why = "not a weights file (no MOEWTS01 header)";
  else if (read_u64(header + 8) != size || read_u64(header + 16) != hash)
    why = "it belongs to another compile of the model (size or hash differ "
          "from the library's)";
  else if ((uint64_t)st.st_size < MOE_WEIGHTS_HEADER_BYTES + size)
    why = "it is truncated";
  if (why) {
    snprintf(error, error_size,
             "weights file '%s' refused: %s (expected %llu bytes of data, "
             "hash %016llx)",
             path, why, (unsigned long long)size, (unsigned long long)hash);
    close(fd);
    return NULL;
  }
  void *base = mmap(NULL, MOE_WEIGHTS_HEADER_BYTES + size, PROT_READ,
                    MAP_SHARED, fd, 0);
  int mapErrno = errno;
  close(fd);
  if (base == MAP_FAILED) {
    snprintf(error, error_size, "cannot map weights file '%s': %s", path,
             strerror(mapErrno));
    return NULL;
  }
  return (const unsigned char *)base + MOE_WEIGHTS_HEADER_BYTES;
}
