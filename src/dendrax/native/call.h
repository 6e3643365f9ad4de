// dendrax native: one XLA FFI call as the generic binding (binding.c) hands it to the entry
// point of a model's library (kernel.cc, adjoint.cc), in plain C so that a model's library
// is compiled without XLA's FFI headers. Operands and results come in the
// order of dendrax/native/operands.py.

#include <stdint.h>

struct DendraxBuffer {
  void* data;
  int64_t count;  // elements
  int64_t rank;
  const int64_t* dims;
  int32_t dtype;  // XLA_FFI_DataType: 4 int32, 5 int64, 11 float32, 12 float64
};

typedef struct DendraxCall DendraxCall;

// An entry point: nullptr on success, else why the call's operands do not fit.
typedef const char* (*DendraxEntry)(const DendraxCall*);

struct DendraxCall {
  const DendraxBuffer* args;
  int64_t n_args;
  const DendraxBuffer* results;
  int64_t n_results;
  int64_t threads;       // threads the batch may run on
  int64_t stored_bytes;  // bytes of stored steps kept for backward passes (adjoint only)
  int64_t* steps_done;   // the binding's count of simulated steps, for progress bars: a
                         // forward kernel adds its steps (times its lanes) as it goes
  const char* entry;     // the name this entry point was registered under
  // The entry point `symbol` of the same model's library, whose part may be compiled on
  // this first request (batches in lane groups: DENDRAX_PART 1); nullptr where it cannot be.
  DendraxEntry (*companion)(const DendraxCall* call, const char* symbol);
};
