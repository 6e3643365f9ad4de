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
#include <limits>
#include <thread>
#include <type_traits>
#include <vector>

@CALL@

namespace {

@STEP@

// A group of W simulations from start to end, the recordings of lane w into out[w].
template <int W>
void simulate_lanes(const Model& model, const Group<W>& group, T* const* out) {
  const int64_t columns = model.n_steps + 1;
  std::vector<T> rows(2 * row_size(model) * W);
  Row row = row_at<W>(model, rows.data()), next = row_at<W>(model, rows.data() + rows.size() / 2);
  Work<W> w(model);
  auto record = [&](const T* values, int64_t column) {
    for (int64_t r = 0; r < model.n_records; ++r) {
      for (int l = 0; l < W; ++l) out[l][r * columns + column] = values[model.record_slot[r] * W + l];
    }
  };
  initial_values(model, group, w, row.values);
  record(row.values, 0);
  for (int64_t step = 0; step < model.n_steps; ++step) {
    advance(model, group, row, step, w, next.values);
    record(next.values, step + 1);
    std::swap(row, next);
  }
}

}  // namespace

// The entry point (call.h): the operands of dendrax/native/operands.py; one result, the
// recordings (rows x columns per simulation, after the batch dimensions).
extern "C" const char* dendrax_simulate(const DendraxCall* call) {
  if (call->n_results != 1 || call->results[0].rank < 2) return "recordings must be 2-d";
  const DendraxBuffer& out = call->results[0];
  const int64_t n_records = out.dims[out.rank - 2];
  const int64_t columns = out.dims[out.rank - 1];
  const int64_t per_sim = n_records * columns;
  if (per_sim == 0) return nullptr;
  const int64_t batch = out.count / per_sim;
  Operands operands;
  if (const char* error = read_operands(*call, batch, operands)) return error;
  const Model model = model_of(operands, n_records, columns);
  T* const results = static_cast<T*>(out.data);
  // The lanes of the last group past the batch repeat its last simulation and write their
  // recordings to scratch.
  over_groups(batch, call->threads, [&](auto width, int64_t first) {
    constexpr int W = decltype(width)::value;
    std::vector<T> scratch;
    Lane in[W];
    T* result[W];
    group_lanes<W>(operands, first, results, per_sim, scratch, in, result);
    simulate_lanes<W>(model, Group<W>(model, in), result);
  });
  return nullptr;
}
