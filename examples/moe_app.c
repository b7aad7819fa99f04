/* A small application that links a model compiled by moe-opt, runs it on
 * generated inputs and prints a summary. This directory's CMakeLists.txt
 * builds it with the installed MoE package; by hand it is
 *   moe-opt MODEL --moe-cpu-pipeline --emit=shared -o libmodel.so
 *   moe-opt MODEL --moe-cpu-pipeline --emit=header -o model.h
 *   cc moe_app.c -I. -L. -lmodel -Wl,-rpath,$PWD -lm -o moe_app */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  int64_t tokens = argc > 1 ? atoll(argv[1]) : 4;
  const moe_model_info *info = moe_model_get_info();
  printf("model %s: %d inputs, %d outputs\n", info->name, info->num_inputs,
         info->num_outputs);

  /* Inputs: every dynamic size is the token count; values are a
   * deterministic function of the index. */
  moe_tensor inputs[8];
  if (info->num_inputs > 8)
    return 1;
  for (int32_t i = 0; i < info->num_inputs; ++i) {
    const moe_tensor_info *want = &info->inputs[i];
    if (want->dtype != MOE_DTYPE_F32) {
      fprintf(stderr, "this example feeds f32 inputs only\n");
      return 1;
    }
    int64_t count = 1;
    inputs[i].dtype = want->dtype;
    inputs[i].rank = want->rank;
    for (int32_t d = 0; d < want->rank; ++d) {
      inputs[i].shape[d] = want->shape[d] < 0 ? tokens : want->shape[d];
      count *= inputs[i].shape[d];
    }
    float *data = malloc((size_t)count * sizeof(float));
    for (int64_t n = 0; n < count; ++n)
      data[n] = (float)sin(0.37 * (double)n + i);
    inputs[i].data = data;
  }

  moe_tensor outputs[8];
  char error[256];
  if (moe_model_run(inputs, info->num_inputs, outputs, info->num_outputs,
                    error, sizeof(error)) != MOE_OK) {
    fprintf(stderr, "moe_model_run failed: %s\n", error);
    return 1;
  }
  for (int32_t o = 0; o < info->num_outputs; ++o) {
    const float *y = outputs[o].data;
    int64_t count = 1;
    printf("%s: [", info->outputs[o].name);
    for (int32_t d = 0; d < outputs[o].rank; ++d) {
      count *= outputs[o].shape[d];
      printf("%s%lld", d ? ", " : "", (long long)outputs[o].shape[d]);
    }
    double sum = 0;
    for (int64_t n = 0; n < count; ++n)
      sum += y[n];
    printf("] first %.6f sum %.6f\n", count ? y[0] : 0.0, sum);
    free(outputs[o].data);
  }
  for (int32_t i = 0; i < info->num_inputs; ++i)
    free(inputs[i].data);
  return 0;
}
