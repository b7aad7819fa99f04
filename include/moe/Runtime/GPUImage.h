/*===- GPUImage.h - the kernel image embedded in CUDA models -------------===*
 *
 * A CUDA model embeds one image per kernel module. It is either a plain fat
 * binary or this container: the fat binary for a real driver plus the same
 * kernels compiled for the host, as a shared object the CUDA emulator loads.
 * The runtime hands each driver the part it can run.
 *
 *===---------------------------------------------------------------------===*/

#ifndef MOE_RUNTIME_GPUIMAGE_H
#define MOE_RUNTIME_GPUIMAGE_H

#include <stdint.h>

#define MOE_GPU_IMAGE_MAGIC "MOEGPUI1"

/* Offsets are from the start of the header; parts are 64-byte aligned. */
typedef struct moe_gpu_image_header {
  char magic[8];
  uint64_t fatbin_offset, fatbin_size;
  uint64_t emulator_offset, emulator_size;
  uint64_t reserved[3];
} moe_gpu_image_header;

/* Symbols of an emulator image: kernel K's launcher, taking the array of
 * argument pointers cuLaunchKernel receives. */
#define MOE_EMU_ENTRY_PREFIX "__moe_emu_entry_"
/* uint64_t[]: kernel K's argument count, then each argument's size in
 * bytes (what a graph node copies when a launch is captured). */
#define MOE_EMU_ARGS_PREFIX "__moe_emu_args_"
/* uint64_t: bytes of static shared memory per block. */
#define MOE_EMU_SHARED_BYTES "__moe_emu_shared_bytes"
/* uint64_t: the alignment of dynamic shared memory (it follows the static). */
#define MOE_EMU_DYNAMIC_SHARED_ALIGN "__moe_emu_dynamic_shared_align"
/* {void *address; uint64_t bytes;}[], ended by a null address: the module's
 * own device globals, which kernels may access. */
#define MOE_EMU_GLOBALS "__moe_emu_globals"

#endif
