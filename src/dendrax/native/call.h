// dendrax native: one XLA FFI call as the generic binding (binding.cc) hands it to the entry
// point of a model's library (kernel.cc, adjoint.cc), in plain C so that a model's library
// is compiled without XLA's template-heavy FFI headers. Operands and results come in the
// order of dendrax/native/operands.py.

#include <stdint.h>

struct DendraxBuffer {
  void* data;
  int64_t count;  // elements
  int64_t rank;
  const int64_t* dims;
  int32_t dtype;  // XLA_FFI_DataType: 4 int32, 5 int64, 11 float32, 12 float64
};

struct DendraxCall {
  const DendraxBuffer* args;
  int64_t n_args;
  const DendraxBuffer* results;
  int64_t n_results;
  int64_t threads;       // threads the batch may run on
  int64_t stored_bytes;  // bytes of stored steps kept for backward passes (adjoint only)
  int64_t* steps_done;   // the binding's count of simulated steps, for progress bars: a
                         // forward kernel adds its steps (times its lanes) as it goes
};

// An entry point: nullptr on success, else why the call's operands do not fit.
typedef const char* (*DendraxEntry)(const DendraxCall*);
