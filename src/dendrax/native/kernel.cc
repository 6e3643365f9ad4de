// dendrax native time stepping: a whole simulation (NEURON's fixed-step order) in one call.
//
// This file is a template: dendrax/native/source.py fills in the @NAMES@ (value type, solver
// factor, the step of step.h with its mechanisms) and compiles one shared library per model
// configuration. A batch runs in groups of kLanes simulations (step.h), recordings after
// every step.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>  // SSE2 streaming stores (immintrin.h takes 10x as long to parse)
#endif
#include <limits>
#include <thread>
#include <vector>

#ifndef DENDRAX_PART
#error "compile with -DDENDRAX_PART=0 (single simulations) or 1 (lane groups)"
#endif

@BUFFER@

@CALL@

namespace {

@STEP@

// Steps between two additions to the call's count of steps done (progress bars).
constexpr int64_t kProgressEvery = 64;

// A group of W simulations from start to end, the recordings of lane w into out[w]; its
// steps are added to `steps_done` as they go.
template <int W>
void simulate_lanes(const Model& model, const Group<W>& group, T* const* out,
                    int64_t* steps_done) {
  const int64_t columns = model.n_steps + 1;
  Buffer rows(2 * row_size(model) * W);
  Row row = row_at<W>(model, rows.data()), next = row_at<W>(model, rows.data() + rows.size() / 2);
  Work<W> w(model);
  auto record = [&](const T* values, int64_t column) {
    for (int64_t r = 0; r < model.n_records; ++r) {
      for (int l = 0; l < W; ++l) out[l][r * columns + column] = values[model.record_slot[r] * W + l];
    }
  };
  Buffer settled;
  initial_values(model, group, w, row.values);
  record(row.values, 0);
  int64_t reported = 0;
  for (int64_t step = 0; step < model.n_steps; ++step) {
    advance(model, group, row, step, w, next.values);
    record(recorded_values(model, group, w, step, next.values, settled), step + 1);
    std::swap(row, next);
    if ((step + 1) % kProgressEvery == 0 || step + 1 == model.n_steps) {
      __atomic_fetch_add(steps_done, (step + 1 - reported) * W, __ATOMIC_RELAXED);
      reported = step + 1;
    }
  }
}

// The recordings of a call's `batch` simulations, W at a time.
template <int W>
const char* simulate_batch(const DendraxCall* call) {
  const DendraxBuffer& out = call->results[0];
  const int64_t n_records = out.dims[out.rank - 2];
  const int64_t columns = out.dims[out.rank - 1];
  const int64_t per_sim = n_records * columns;
  const int64_t batch = out.count / per_sim;
  Operands operands;
  if (const char* error = read_operands(*call, batch, operands)) return error;
  const Model model = model_of(operands, n_records, columns);
  T* const results = static_cast<T*>(out.data);
  // The lanes of the last group past the batch repeat its last simulation and write their
  // recordings to scratch.
  over_groups<W>(batch, call->threads, [&](int64_t first) {
    Buffer scratch;
    Lane in[W];
    T* result[W];
    group_lanes<W>(operands, first, results, per_sim, scratch, in, result);
    simulate_lanes<W>(model, Group<W>(model, in), result, call->steps_done);
  });
  return nullptr;
}

}  // namespace

#if DENDRAX_PART != 1
// The entry point (call.h): the operands of dendrax/native/operands.py; one result, the
// recordings (rows x columns per simulation, after the batch dimensions).
extern "C" const char* dendrax_simulate(const DendraxCall* call) {
  if (call->n_results != 1 || call->results[0].rank < 2) return "recordings must be 2-d";
  const DendraxBuffer& out = call->results[0];
  const int64_t per_sim = out.dims[out.rank - 2] * out.dims[out.rank - 1];
  if (per_sim == 0) return nullptr;
  const int64_t batch = out.count / per_sim;
  return run_batch(call, batch, "dendrax_simulate_lanes", simulate_batch<1>);
}
#endif

#if DENDRAX_PART != 0
// A batch in groups of kLanes (`in_lane_groups`).
extern "C" const char* dendrax_simulate_lanes(const DendraxCall* call) {
  return simulate_batch<kLanes>(call);
}
#endif
