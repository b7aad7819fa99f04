/*===- mpi.c - all-to-all over MPI for expert-parallel CPU models -------===*
 *
 * Implements include/moe/Runtime/Collectives.h. One communication thread
 * initializes MPI and makes every MPI call (MPI_THREAD_FUNNELED suffices);
 * the model's thread queues exchanges and waits for them, so an exchange
 * runs while the model computes. Exchanges run in the order they were
 * started, which is the same on every rank (one SPMD program). Each
 * exchange is a count all-to-all then an all-to-all-v of rows, polled with a
 * deadline so that a dead or diverged rank ends the job instead of hanging.
 *
 * Built without MPI (MOE_HAVE_MPI undefined), the entry points report that
 * sharded models cannot run with this runtime.
 *
 *===---------------------------------------------------------------------===*/

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "moe/Runtime/Collectives.h"

#include "collectives.h"

#include <stdio.h>
#include <stdlib.h>

void moe_runtime_fail(const char *message);

#ifndef MOE_HAVE_MPI

int64_t moe_rt_a2a_start(const void *data, int64_t rows, int64_t row_bytes,
                         const int32_t *send_counts, int64_t ranks,
                         int64_t rank, int64_t layout) {
  moe_runtime_fail("this model is sharded over ranks, but libmoe_runtime was "
                   "built without MPI (install libopenmpi-dev and rebuild)");
  return 0;
}
int64_t moe_rt_a2a_wait(int64_t handle) { return 0; }
void moe_rt_a2a_take(int64_t handle, void *out, int32_t *recv_counts) {}

#else

#include <dlfcn.h>
#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

typedef struct exchange {
  int64_t id;
  char *data; /* a copy of the rows to send */
  int64_t rows, row_bytes;
  int *send_counts, *recv_counts;
  char *received;
  int64_t received_rows;
  int done;
  char error[256];
  double begin_us, end_us; /* on the communication thread */
  struct exchange *next;
} exchange;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t queued = PTHREAD_COND_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
static pthread_t comm_thread;
static int started, stopping;
static exchange *queue_head, *queue_tail;
static int64_t next_id;
/* What this process's shard was compiled for (from the first exchange). */
static int64_t shard_ranks, shard_rank, shard_layout;
/* Set once an exchange fails: the ranks' sequences of exchanges no longer
 * match, so every later one fails at once instead of waiting forever. */
static char broken[256];
/* The failure was found by every rank alike (launch size, shard layouts,
 * NCCL availability), so no rank waits on another: MPI can end normally
 * and every rank reports its own message. */
static int agreed_failure;
static int world_rank = -1;
static int initialized_mpi;
/* The communication thread is blocked inside MPI for good (a rank never
 * arrived): it cannot be joined, and MPI cannot be finalized. */
static int stuck;
/* MOE_COLLECTIVES=nccl: rows move over NCCL (GPUs), MPI only bootstraps the
 * communicator and exchanges the counts. */
static int use_nccl;

/* Trace (MOE_TRACE): complete events in microseconds of CLOCK_MONOTONIC,
 * which all processes on one machine share. */
typedef struct trace_event {
  const char *name;
  int64_t id;
  int tid; /* 0: the model's thread, 1: the communication thread */
  double ts, dur;
} trace_event;
enum { MAX_TRACE_EVENTS = 1 << 16 };
static trace_event *trace;
static int trace_count;
static double last_call_end_us = -1; /* model thread, end of last call */

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec * 1e-3;
}

static void record(const char *name, int64_t id, int tid, double begin,
                   double end) {
  if (!trace || trace_count >= MAX_TRACE_EVENTS)
    return;
  trace[trace_count++] = (trace_event){name, id, tid, begin, end - begin};
}

/* What the model's thread did since its last collective call, up to the
 * call for exchange `id`: compute. */
static void record_compute(double until, int64_t id) {
  if (last_call_end_us >= 0)
    record("compute", id, 0, last_call_end_us, until);
}

static double timeout_seconds(void) {
  const char *env = getenv("MOE_COLLECTIVE_TIMEOUT");
  double s = env ? atof(env) : 60.0;
  return s > 0 ? s : 60.0;
}

/* Polls a request until it completes; a rank that stops taking part (dead,
 * stuck, or running a different sequence of exchanges) ends the whole job
 * once the deadline passes, since the others could never complete. */
static void finish(MPI_Request *request, const char *what, int64_t id) {
  double deadline = now_us() + timeout_seconds() * 1e6;
  struct timespec pause = {0, 20000};
  for (;;) {
    int flag = 0;
    MPI_Test(request, &flag, MPI_STATUS_IGNORE);
    if (flag)
      return;
    if (now_us() > deadline) {
      fprintf(stderr,
              "moe runtime error: rank %d: %s of all-to-all #%lld timed out "
              "after %.0f s (another rank died or stopped exchanging); "
              "aborting the job\n",
              world_rank, what, (long long)id, timeout_seconds());
      fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    nanosleep(&pause, NULL);
  }
}

/* MPI's plug-ins resolve libmpi's symbols globally, but models are usually
 * dlopen'ed RTLD_LOCAL with libmpi as their dependency: promote it. */
static void make_mpi_global(void) {
  Dl_info info;
  if (dladdr((void *)&MPI_Init_thread, &info) && info.dli_fname)
    dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
}

/* NCCL on every rank or on none: a rank that cannot load it tells the
 * others before anyone enters a collective NCCL call. */
static void set_up_nccl(int size) {
  char error[256] = "";
  int ok = moe_nccl_load(error, sizeof error), all_ok = 0;
  MPI_Request request;
  MPI_Iallreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD, &request);
  finish(&request, "the NCCL start-up", 0);
  if (!all_ok) {
    agreed_failure = 1;
    snprintf(broken, sizeof broken, "%s",
             ok ? "NCCL cannot be used on another rank" : error);
    return;
  }
  char id[128] = {0};
  ok = world_rank != 0 || moe_nccl_unique_id(id, error, sizeof error);
  MPI_Ibcast(id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD, &request);
  finish(&request, "the NCCL id broadcast", 0);
  if (!ok || !moe_nccl_init(id, world_rank, size, error, sizeof error))
    snprintf(broken, sizeof broken, "%s", error);
}

/* Starts MPI (or joins the application's) and checks that the launcher and
 * every rank agree with the shard; fills `broken` otherwise. */
static void set_up(void) {
  int flag = 0;
  MPI_Initialized(&flag);
  if (flag) {
    int level = 0;
    MPI_Query_thread(&level);
    if (level < MPI_THREAD_MULTIPLE) {
      snprintf(broken, sizeof broken,
               "MPI was initialized by the application without "
               "MPI_THREAD_MULTIPLE; the runtime's communication thread "
               "needs it");
      return;
    }
  } else {
    make_mpi_global();
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) !=
        MPI_SUCCESS) {
      snprintf(broken, sizeof broken, "MPI_Init_thread failed");
      return;
    }
    initialized_mpi = 1;
  }
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size != shard_ranks) {
    agreed_failure = 1;
    snprintf(broken, sizeof broken,
             "the model is sharded for %lld ranks but was launched with %d "
             "(run it with mpirun -np %lld)",
             (long long)shard_ranks, size, (long long)shard_ranks);
    /* Every rank sees the same size, so every rank stops here. */
    return;
  }
  int64_t mine[3] = {shard_ranks, shard_rank, shard_layout};
  int64_t *all = malloc(sizeof(int64_t) * 3 * size);
  MPI_Request request;
  MPI_Iallgather(mine, 3, MPI_INT64_T, all, 3, MPI_INT64_T, MPI_COMM_WORLD,
                 &request);
  finish(&request, "the shard layout check", 0);
  for (int p = 0; p < size && !broken[0]; ++p) {
    if (all[3 * p + 1] != p)
      snprintf(broken, sizeof broken,
               "MPI rank %d loaded the shard compiled for rank %lld", p,
               (long long)all[3 * p + 1]);
    else if (all[3 * p + 2] != shard_layout)
      snprintf(broken, sizeof broken,
               "the shards of rank %d and rank %d were compiled with "
               "different expert placements (layout %llx vs %llx)",
               world_rank, p, (unsigned long long)shard_layout,
               (unsigned long long)all[3 * p + 2]);
  }
  free(all);
  agreed_failure = broken[0] != 0;
  if (!broken[0] && use_nccl)
    set_up_nccl(size);
}

/* The rows through NCCL, staged in unified memory (the program's buffers
 * are copied at the start anyway). A timeout has aborted the communicator:
 * the job must end, as with MPI. */
static void exchange_nccl(exchange *x, const int *send_displs,
                          const int *recv_displs, int64_t send_total,
                          int64_t recv_total) {
  char *send = moe_nccl_alloc(send_total * x->row_bytes);
  char *recv = moe_nccl_alloc(recv_total * x->row_bytes);
  if (!send || !recv) {
    snprintf(x->error, sizeof x->error,
             "all-to-all #%lld: out of unified memory for NCCL",
             (long long)x->id);
  } else {
    if (send_total)
      memcpy(send, x->data, send_total * x->row_bytes);
    int r = moe_nccl_exchange(send, x->send_counts, send_displs, recv,
                              x->recv_counts, recv_displs, (int)shard_ranks,
                              x->row_bytes, timeout_seconds(), x->error,
                              sizeof x->error);
    if (r < 0) {
      fprintf(stderr, "moe runtime error: rank %d: all-to-all #%lld: %s; "
                      "aborting the job\n",
              world_rank, (long long)x->id, x->error);
      fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (r > 0 && recv_total)
      memcpy(x->received, recv, recv_total * x->row_bytes);
  }
  moe_nccl_free(send);
  moe_nccl_free(recv);
}

static void run_exchange(exchange *x) {
  int size = (int)shard_ranks;
  MPI_Request request;
  MPI_Ialltoall(x->send_counts, 1, MPI_INT, x->recv_counts, 1, MPI_INT,
                MPI_COMM_WORLD, &request);
  finish(&request, "the count exchange", x->id);
  int *send_displs = malloc(sizeof(int) * size);
  int *recv_displs = malloc(sizeof(int) * size);
  int64_t send_total = 0, recv_total = 0;
  for (int p = 0; p < size; ++p) {
    send_displs[p] = (int)send_total;
    recv_displs[p] = (int)recv_total;
    send_total += x->send_counts[p];
    recv_total += x->recv_counts[p];
  }
  if (recv_total > INT32_MAX || recv_total * x->row_bytes > (int64_t)1 << 40) {
    snprintf(x->error, sizeof x->error,
             "all-to-all #%lld would receive %lld rows, more than supported",
             (long long)x->id, (long long)recv_total);
  } else {
    x->received = malloc(recv_total * x->row_bytes + 1);
    x->received_rows = recv_total;
    if (use_nccl) {
      exchange_nccl(x, send_displs, recv_displs, send_total, recv_total);
    } else {
      MPI_Datatype row;
      MPI_Type_contiguous((int)x->row_bytes, MPI_BYTE, &row);
      MPI_Type_commit(&row);
      MPI_Ialltoallv(x->data, x->send_counts, send_displs, row, x->received,
                     x->recv_counts, recv_displs, row, MPI_COMM_WORLD,
                     &request);
      finish(&request, "the row exchange", x->id);
      MPI_Type_free(&row);
    }
  }
  free(send_displs);
  free(recv_displs);
}

static void *communicate(void *unused) {
  set_up();
  pthread_mutex_lock(&lock);
  for (;;) {
    while (!queue_head && !stopping)
      pthread_cond_wait(&queued, &lock);
    if (!queue_head)
      break;
    exchange *x = queue_head;
    queue_head = x->next;
    if (!queue_head)
      queue_tail = NULL;
    if (broken[0]) {
      snprintf(x->error, sizeof x->error, "%s", broken);
    } else {
      pthread_mutex_unlock(&lock);
      x->begin_us = now_us();
      run_exchange(x);
      x->end_us = now_us();
      free(x->data); /* sent: only the received rows are needed now */
      x->data = NULL;
      pthread_mutex_lock(&lock);
      if (x->error[0])
        snprintf(broken, sizeof broken, "%s", x->error);
      else
        record("all_to_all", x->id, 1, x->begin_us, x->end_us);
    }
    x->done = 1;
    pthread_cond_broadcast(&finished);
  }
  pthread_mutex_unlock(&lock);
  if (use_nccl)
    moe_nccl_finalize();
  if (initialized_mpi) {
    /* After a failure another rank may be blocked in an exchange that will
     * never complete; ending the job is the only way to release it. */
    if (broken[0] && !agreed_failure)
      MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Finalize();
  }
  return NULL;
}

static void write_trace(void) {
  const char *prefix = getenv("MOE_TRACE");
  if (!trace || !prefix)
    return;
  char path[1024];
  snprintf(path, sizeof path, "%s.rank%d.json", prefix,
           world_rank < 0 ? 0 : world_rank);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "moe runtime: cannot write the trace %s\n", path);
    return;
  }
  fprintf(f, "{\"traceEvents\": [\n");
  fprintf(f,
          "{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": %d, "
          "\"args\": {\"name\": \"rank %d\"}},\n",
          world_rank, world_rank);
  fprintf(f,
          "{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": %d, \"tid\": 0, "
          "\"args\": {\"name\": \"model\"}},\n",
          world_rank);
  fprintf(f,
          "{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": %d, \"tid\": 1, "
          "\"args\": {\"name\": \"all-to-all\"}}",
          world_rank);
  for (int i = 0; i < trace_count; ++i)
    fprintf(f,
            ",\n{\"name\": \"%s\", \"ph\": \"X\", \"pid\": %d, \"tid\": %d, "
            "\"ts\": %.3f, \"dur\": %.3f, \"args\": {\"exchange\": %lld}}",
            trace[i].name, world_rank, trace[i].tid, trace[i].ts, trace[i].dur,
            (long long)trace[i].id);
  fprintf(f, "\n]}\n");
  fclose(f);
}

__attribute__((destructor)) static void shut_down(void) {
  pthread_mutex_lock(&lock);
  int join = started && !stuck;
  stopping = 1;
  pthread_cond_broadcast(&queued);
  pthread_mutex_unlock(&lock);
  if (join)
    pthread_join(comm_thread, NULL);
  write_trace();
  free(trace);
  trace = NULL;
}

static void release(exchange *x) {
  free(x->data);
  free(x->send_counts);
  free(x->recv_counts);
  free(x->received);
  free(x);
}

int64_t moe_rt_a2a_start(const void *data, int64_t rows, int64_t row_bytes,
                         const int32_t *send_counts, int64_t ranks,
                         int64_t rank, int64_t layout) {
  double call_begin = now_us();
  char message[256] = "";
  int64_t total = 0;
  for (int64_t p = 0; p < ranks; ++p) {
    if (send_counts[p] < 0)
      snprintf(message, sizeof message,
               "all-to-all: negative row count %d for rank %lld",
               send_counts[p], (long long)p);
    total += send_counts[p];
  }
  if (!message[0] && total != rows)
    snprintf(message, sizeof message,
             "all-to-all: the send counts add up to %lld rows, but the "
             "input has %lld",
             (long long)total, (long long)rows);

  pthread_mutex_lock(&lock);
  if (!message[0] && started &&
      (ranks != shard_ranks || rank != shard_rank || layout != shard_layout))
    snprintf(message, sizeof message,
             "two models with different shardings in one process (rank %lld "
             "of %lld, and rank %lld of %lld)",
             (long long)rank, (long long)ranks, (long long)shard_rank,
             (long long)shard_ranks);
  if (!message[0] && broken[0])
    snprintf(message, sizeof message, "%s", broken);
  if (message[0]) {
    pthread_mutex_unlock(&lock);
    moe_runtime_fail(message);
    return 0;
  }
  const char *backend = getenv("MOE_COLLECTIVES");
  if (!message[0] && !started && backend && strcmp(backend, "mpi") &&
      strcmp(backend, "nccl"))
    snprintf(message, sizeof message,
             "MOE_COLLECTIVES is '%s'; expected mpi or nccl", backend);
  if (message[0]) {
    pthread_mutex_unlock(&lock);
    moe_runtime_fail(message);
    return 0;
  }
  if (!started) {
    use_nccl = backend && !strcmp(backend, "nccl");
    shard_ranks = ranks;
    shard_rank = rank;
    shard_layout = layout;
    if (getenv("MOE_TRACE"))
      trace = calloc(MAX_TRACE_EVENTS, sizeof(trace_event));
    if (pthread_create(&comm_thread, NULL, communicate, NULL) != 0) {
      pthread_mutex_unlock(&lock);
      moe_runtime_fail("cannot start the runtime's communication thread");
      return 0;
    }
    started = 1;
  }
  exchange *x = calloc(1, sizeof(exchange));
  x->id = next_id++;
  /* A copy: the program's buffer may be freed or reused after the call. */
  x->data = malloc(rows * row_bytes + 1);
  if (rows)
    memcpy(x->data, data, rows * row_bytes);
  x->rows = rows;
  x->row_bytes = row_bytes;
  x->send_counts = malloc(sizeof(int) * ranks);
  x->recv_counts = calloc(ranks, sizeof(int));
  for (int64_t p = 0; p < ranks; ++p)
    x->send_counts[p] = send_counts[p];
  if (queue_tail)
    queue_tail->next = x;
  else
    queue_head = x;
  queue_tail = x;
  pthread_cond_signal(&queued);
  record_compute(call_begin, x->id);
  last_call_end_us = now_us();
  record("start", x->id, 0, call_begin, last_call_end_us);
  pthread_mutex_unlock(&lock);
  return (int64_t)(intptr_t)x;
}

int64_t moe_rt_a2a_wait(int64_t handle) {
  exchange *x = (exchange *)(intptr_t)handle;
  double call_begin = now_us();
  pthread_mutex_lock(&lock);
  /* The communication thread bounds each MPI request, but not MPI's own
   * start-up, which waits for every rank to arrive: bound the wait here too
   * (twice the exchange timeout, as exchanges queued ahead may take one). */
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += (time_t)(2 * timeout_seconds()) + 1;
  while (!x->done) {
    if (pthread_cond_timedwait(&finished, &lock, &deadline) == ETIMEDOUT &&
        !x->done) {
      stuck = 1;
      snprintf(broken, sizeof broken,
               "all-to-all #%lld did not complete within %.0f s: a rank died, "
               "is stuck, or was never started (MOE_COLLECTIVE_TIMEOUT)",
               (long long)x->id, 2 * timeout_seconds() + 1);
      char message[256];
      snprintf(message, sizeof message, "%s", broken);
      pthread_mutex_unlock(&lock);
      moe_runtime_fail(message);
      return 0;
    }
  }
  record_compute(call_begin, x->id);
  last_call_end_us = now_us();
  record("wait", x->id, 0, call_begin, last_call_end_us);
  pthread_mutex_unlock(&lock);
  if (x->error[0]) {
    char message[256];
    snprintf(message, sizeof message, "%s", x->error);
    release(x);
    moe_runtime_fail(message);
    return 0;
  }
  return x->received_rows;
}

void moe_rt_a2a_take(int64_t handle, void *out, int32_t *recv_counts) {
  exchange *x = (exchange *)(intptr_t)handle;
  if (x->received_rows)
    memcpy(out, x->received, x->received_rows * x->row_bytes);
  for (int64_t p = 0; p < shard_ranks; ++p)
    recv_counts[p] = x->recv_counts[p];
  release(x);
}

#endif /* MOE_HAVE_MPI */
