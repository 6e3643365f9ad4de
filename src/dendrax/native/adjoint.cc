// dendrax native adjoint: the vector-Jacobian product of a whole simulation in one call.
//
// This file is a template: dendrax/native/adjoint_source.py fills in the @NAMES@ (value type,
// solver factor, mechanism functions and their vector-Jacobian products generated from
// jaxprs, and the loops that apply them). The forward step is the forward kernel's
// (kernel.cc; dendrax/solve/stepping.py): site currents and slopes at v, stimuli, axial
// flows, the tree solve (Hines 1984) of A delta = rhs, v' = v + f delta, then the states
// updated at v'. The backward sweep runs the steps in reverse with the cotangents of (v,
// states), adding the recordings' cotangents at each step:
//   update:      states' cotangents through the update's VJP (to v', old states, inputs);
//   v' = v + f delta:  v's cotangent passes on, delta's is f times it;
//   the solve:   lam = A^-1 (f lam_v'), since A is symmetric; diag gets -lam delta, each
//                coupling c_i (in A at (i, parent) and (parent, i) as -c_i) lam_i delta_p +
//                lam_p delta_i, the stimuli lam at their nodes;
//   rhs:         the flow c_i (v_p - v_i) enters rhs_i and leaves rhs_p: its cotangent is
//                lam_i - lam_p; currents get -lam, slopes -lam delta, both through the
//                current's VJP (times the site's area scale, whose cotangent they give too).
// The sweep needs each step's values and two of its intermediates (delta and the eliminated
// diagonal): one forward pass stores them for all steps where
// they fit in `stored_bytes`; longer runs keep the values at every sqrt(n_steps)-th step and
// recompute each segment from there before its sweep (Griewank 1992), one more forward pass
// for memory of about 2 sqrt(n_steps) steps.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

using T = @C_TYPE@;
constexpr ffi::DataType kType = ffi::DataType::@FFI_TYPE@;
using Index = @INDEX_TYPE@;  // JAX's integer type: int64_t with jax_enable_x64, else int32_t
constexpr ffi::DataType kIndex = ffi::DataType::@FFI_INDEX@;
constexpr T kFactor = @FACTOR@;  // v += kFactor * delta (1: backward Euler, 2: Crank-Nicolson)
constexpr int64_t kMechanisms = @N_MECHANISMS@;

@SCALAR_MATH@

// Mechanism functions and their vector-Jacobian products, generated from jaxprs.
@MECHANISM_FUNCTIONS@

struct Model {
  int64_t n_nodes, n_values, n_steps, n_records, n_stim_pairs, n_sites;
  const Index* parent;
  const Index* site_node;
  const Index* site_count;
  const Index* stim_row;
  const Index* stim_node;
  const Index* record_slot;
};

// One simulation's operands and its cotangents (outputs).
struct Lane {
  const T* diag_fixed;
  const T* coupling;
  const T* v0;
  const T* states0;
  const T* site_values;
  const T* stimulus;
  const T* cotangent;
  T* bar_diag_fixed;
  T* bar_coupling;
  T* bar_v0;
  T* bar_states0;
  T* bar_site_values;
  T* bar_stimulus;
};

// Per-site rows (each as long as all mechanisms' sites together): v and two values
// gathered from or to be scattered to the nodes.
struct Scratch {
  T* v;
  T* a;
  T* b;
};

// The sites' currents and slopes at v, summed per node (nA, µS).
void site_currents(const Model& model, const T* v, const T* states, const T* params,
                   Scratch scratch, T* current, T* slope) {
  const Index* site_node = model.site_node;
  @CURRENTS@
}

// The states after a step to the new voltage v, into next_states.
void update_states(const Model& model, const T* v, const T* states, const T* params,
                   Scratch scratch, T* next_states) {
  const Index* site_node = model.site_node;
  @UPDATES@
}

// Cotangents through the state update: of v' (added to lam_v), of the old states (to
// bar_states) and of the site inputs (to bar_params), from the new states' lam_states.
void update_vjps(const Model& model, const T* v, const T* states, const T* params,
                 const T* lam_states, Scratch scratch, T* lam_v, T* bar_states,
                 T* bar_params) {
  const Index* site_node = model.site_node;
  @UPDATE_VJPS@
}

// Cotangents through the site currents and slopes (lam_current, lam_slope per node): of v
// (added to lam_v), the states (to bar_states), the site inputs and area scales (to
// bar_params).
void current_vjps(const Model& model, const T* v, const T* states, const T* params,
                  const T* lam_current, const T* lam_slope, Scratch scratch, T* lam_v,
                  T* bar_states, T* bar_params) {
  const Index* site_node = model.site_node;
  @CURRENT_VJPS@
}

// What the backward sweep keeps of a step: the values (v, then the states) at its start,
// delta and the eliminated diagonal.
struct Row {
  T* values;
  T* delta;
  T* diag;
};

Row row_at(const Model& model, T* base) {
  T* delta = base + model.n_values;
  return Row{base, delta, delta + model.n_nodes};
}

int64_t row_size(const Model& model) { return model.n_values + 2 * model.n_nodes; }

// Storage for the stored steps, kept between calls up to `stored_bytes` in all: fresh memory
// of this size costs a page fault per page on first touch (measured: as much time as the
// backward sweep itself).
std::mutex kept_mutex;
std::vector<std::vector<T>> kept;

std::vector<T> take_storage(size_t size) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  auto best = kept.end();
  for (auto it = kept.begin(); it != kept.end(); ++it) {
    if (it->size() >= size && (best == kept.end() || it->size() < best->size())) best = it;
  }
  if (best == kept.end()) return std::vector<T>(size);
  std::vector<T> storage = std::move(*best);
  kept.erase(best);
  return storage;
}

void keep_storage(std::vector<T>&& storage, int64_t stored_bytes) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  size_t total = storage.size();
  for (const auto& other : kept) total += other.size();
  if (static_cast<double>(total) * sizeof(T) <= static_cast<double>(stored_bytes)) {
    kept.push_back(std::move(storage));
  }
}

// Steps stored by forward passes (DendraxForward) for their backward passes, by ticket, and
// the values reserved for them: at most `stored_bytes` in all.
struct Deposit {
  std::vector<T> rows;
  size_t reserved;
};
std::map<int64_t, Deposit> deposited;
size_t reserved = 0;
int64_t last_ticket = 0;

// Before a forward call that would store `values`: the oldest deposits (of earlier calls,
// whose backward pass has not run, or will not) are dropped until they fit.
void make_room(size_t values, int64_t stored_bytes) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  while (!deposited.empty() && static_cast<double>(reserved + values) * sizeof(T) >
                                   static_cast<double>(stored_bytes)) {
    reserved -= deposited.begin()->second.reserved;
    deposited.erase(deposited.begin());
  }
}

// Room for one simulation's steps, if they fit.
bool reserve(size_t values, int64_t stored_bytes) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  if (static_cast<double>(reserved + values) * sizeof(T) > static_cast<double>(stored_bytes)) {
    return false;
  }
  reserved += values;
  return true;
}

int64_t deposit(std::vector<T>&& rows, size_t values) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  // Tickets count up to the largest Index and start again at 1 (entries that old are gone).
  last_ticket = last_ticket == std::numeric_limits<Index>::max() ? 1 : last_ticket + 1;
  auto old = deposited.find(last_ticket);
  if (old != deposited.end()) {
    reserved -= old->second.reserved;
    deposited.erase(old);
  }
  deposited.emplace(last_ticket, Deposit{std::move(rows), values});
  return last_ticket;
}

// The steps stored under `ticket` (none if they were dropped or taken before).
std::vector<T> withdraw(int64_t ticket) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  auto it = deposited.find(ticket);
  if (it == deposited.end()) return {};
  std::vector<T> rows = std::move(it->second.rows);
  reserved -= it->second.reserved;
  deposited.erase(it);
  return rows;
}

struct Work {
  explicit Work(const Model& m)
      : site_v(m.n_sites), site_a(m.n_sites), site_b(m.n_sites), current(m.n_nodes),
        slope(m.n_nodes), injected(m.n_nodes), flow(m.n_nodes), from_children(m.n_nodes),
        rhs(m.n_nodes), factor(m.n_nodes), inverse(m.n_nodes), lam_v_new(m.n_nodes), lam_rhs(m.n_nodes), lam_current(m.n_nodes),
        lam_slope(m.n_nodes), next(m.n_values) {}
  Scratch scratch() { return Scratch{site_v.data(), site_a.data(), site_b.data()}; }
  std::vector<T> site_v, site_a, site_b, current, slope, injected, flow, from_children, rhs,
      factor, inverse, lam_v_new, lam_rhs, lam_current, lam_slope, next;
};

// One forward step (kernel.cc's arithmetic, in its order) from row.values to `next_values`,
// filling the rest of the row.
void advance(const Model& model, const Lane& in, const Row& row, int64_t step, Work& w,
             T* next_values) {
  const int64_t n = model.n_nodes;
  const T* v = row.values;
  T* diag = row.diag;
  T* delta = row.delta;
  std::fill(w.current.begin(), w.current.end(), T(0));
  std::fill(w.slope.begin(), w.slope.end(), T(0));
  site_currents(model, v, v + n, in.site_values, w.scratch(), w.current.data(),
                w.slope.data());
  std::fill(w.injected.begin(), w.injected.end(), T(0));
  for (int64_t k = 0; k < model.n_stim_pairs; ++k) {
    w.injected[model.stim_node[k]] += in.stimulus[model.stim_row[k] * model.n_steps + step];
  }
  std::fill(w.from_children.begin(), w.from_children.end(), T(0));
  for (int64_t i = 0; i < n; ++i) {
    w.flow[i] = in.coupling[i] * (v[model.parent[i]] - v[i]);
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    if (p != i) w.from_children[p] += w.flow[i];
  }
  for (int64_t i = 0; i < n; ++i) {
    w.rhs[i] = w.injected[i] - w.current[i] + (w.flow[i] - w.from_children[i]);
    diag[i] = in.diag_fixed[i] + w.slope[i];
  }
  for (int64_t i = n - 1; i >= 0; --i) {
    const int64_t p = model.parent[i];
    const T factor = in.coupling[i] / diag[i];
    const T eliminated_rhs = w.rhs[i];
    diag[p] -= factor * in.coupling[i];
    w.rhs[p] += factor * eliminated_rhs;
  }
  std::fill(delta, delta + n, T(0));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    delta[i] = (w.rhs[i] + in.coupling[i] * delta[p]) / diag[i];
  }
  for (int64_t i = 0; i < n; ++i) next_values[i] = v[i] + kFactor * delta[i];
  update_states(model, next_values, v + n, in.site_values, w.scratch(), next_values + n);
}

// One backward step: `lam` holds the cotangents of (v, states) after the step of `row`; on
// return, those of the values before it.
void backward_step(const Model& model, const Lane& in, const Row& row, int64_t step, Work& w,
                   T* lam) {
  const int64_t n = model.n_nodes;
  const T* v = row.values;
  const T* states = v + n;
  const T* delta = row.delta;
  const T* diag = row.diag;
  T* next = w.next.data();
  T* v_new = w.lam_rhs.data();  // v' while the update's VJP needs it, lam_rhs after
  for (int64_t i = 0; i < n; ++i) v_new[i] = v[i] + kFactor * delta[i];
  std::fill(w.next.begin(), w.next.end(), T(0));
  std::copy(lam, lam + n, w.lam_v_new.begin());
  update_vjps(model, v_new, states, in.site_values, lam + n, w.scratch(),
              w.lam_v_new.data(), next + n, in.bar_site_values);
  T* lam_rhs = w.lam_rhs.data();
  for (int64_t i = 0; i < n; ++i) {
    next[i] = w.lam_v_new[i];
    lam_rhs[i] = kFactor * w.lam_v_new[i];
  }
  // lam_rhs = A^-1 (f lam_v'), with A's elimination kept from the forward solve; the
  // divisions first, all at once (they vectorise), out of the sequential sweeps.
  T* factor = w.factor.data();
  T* inverse = w.inverse.data();
  for (int64_t i = 0; i < n; ++i) {
    inverse[i] = T(1) / diag[i];
    factor[i] = in.coupling[i] * inverse[i];
  }
  for (int64_t i = n - 1; i >= 0; --i) {
    const int64_t p = model.parent[i];
    if (p != i) lam_rhs[p] += factor[i] * lam_rhs[i];
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    lam_rhs[i] = lam_rhs[i] * inverse[i] + (p == i ? T(0) : factor[i] * lam_rhs[p]);
  }
  for (int64_t i = 0; i < n; ++i) {
    w.lam_slope[i] = -lam_rhs[i] * delta[i];
    w.lam_current[i] = -lam_rhs[i];
    in.bar_diag_fixed[i] += w.lam_slope[i];
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    if (p == i) continue;
    const T lam_flow = lam_rhs[i] - lam_rhs[p];
    in.bar_coupling[i] +=
        lam_rhs[i] * delta[p] + lam_rhs[p] * delta[i] + lam_flow * (v[p] - v[i]);
    next[p] += lam_flow * in.coupling[i];
    next[i] -= lam_flow * in.coupling[i];
  }
  for (int64_t k = 0; k < model.n_stim_pairs; ++k) {
    in.bar_stimulus[model.stim_row[k] * model.n_steps + step] += lam_rhs[model.stim_node[k]];
  }
  current_vjps(model, v, states, in.site_values, w.lam_current.data(), w.lam_slope.data(),
               w.scratch(), next, next + n, in.bar_site_values);
  std::copy(w.next.begin(), w.next.end(), lam);
}

// The cotangents of one simulation. Its steps are stored `segment` at a time: every step at
// once where they fit in `stored_bytes`, else about sqrt(n_steps) per segment.
void adjoint(const Model& model, const Lane& in, int64_t stored_bytes, int64_t ticket) {
  const int64_t n = model.n_nodes, n_values = model.n_values, n_steps = model.n_steps;
  const int64_t columns = n_steps + 1, size = row_size(model);
  std::fill(in.bar_diag_fixed, in.bar_diag_fixed + n, T(0));
  std::fill(in.bar_coupling, in.bar_coupling + n, T(0));
  Work w(model);
  std::vector<T> lam(n_values, T(0));
  auto add_recorded = [&](int64_t column) {
    for (int64_t r = 0; r < model.n_records; ++r) {
      lam[model.record_slot[r]] += in.cotangent[r * columns + column];
    }
  };
  add_recorded(n_steps);
  std::vector<T> rows = ticket ? withdraw(ticket) : std::vector<T>();
  if (n_steps > 0 && static_cast<int64_t>(rows.size()) >= n_steps * size) {
    for (int64_t s = n_steps - 1; s >= 0; --s) {
      backward_step(model, in, row_at(model, rows.data() + s * size), s, w, lam.data());
      add_recorded(s);
    }
    std::copy(lam.begin(), lam.begin() + n, in.bar_v0);
    std::copy(lam.begin() + n, lam.end(), in.bar_states0);
    keep_storage(std::move(rows), stored_bytes);
    return;
  }
  int64_t length = std::max<int64_t>(1, n_steps);
  if (static_cast<double>(length) * size * sizeof(T) > static_cast<double>(stored_bytes)) {
    length = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n_steps))));
  }
  const int64_t n_segments = (n_steps + length - 1) / length;
  // Checkpoints: the values at the start of every segment.
  std::vector<T> checkpoints(n_segments * n_values), scratch_row(size);
  if (n_segments > 0) {
    std::copy(in.v0, in.v0 + n, checkpoints.begin());
    std::copy(in.states0, in.states0 + (n_values - n), checkpoints.begin() + n);
  }
  const Row scratch = row_at(model, scratch_row.data());
  std::vector<T> values(checkpoints.begin(), checkpoints.begin() + (n_segments ? n_values : 0));
  for (int64_t s = 0; s < (n_segments - 1) * length; ++s) {
    std::copy(values.begin(), values.end(), scratch.values);
    advance(model, in, scratch, s, w, values.data());
    if ((s + 1) % length == 0) {
      std::copy(values.begin(), values.end(), checkpoints.begin() + (s + 1) / length * n_values);
    }
  }
  std::vector<T> stored = take_storage(length * size);
  for (int64_t g = n_segments - 1; g >= 0; --g) {
    const int64_t first = g * length, last = std::min(n_steps, first + length);
    std::copy(checkpoints.begin() + g * n_values, checkpoints.begin() + (g + 1) * n_values,
              stored.begin());
    for (int64_t s = first; s < last; ++s) {
      const Row row = row_at(model, stored.data() + (s - first) * size);
      T* next_values = s + 1 < last ? stored.data() + (s + 1 - first) * size : w.next.data();
      advance(model, in, row, s, w, next_values);
    }
    for (int64_t s = last - 1; s >= first; --s) {
      backward_step(model, in, row_at(model, stored.data() + (s - first) * size), s, w,
                    lam.data());
      add_recorded(s);
    }
  }
  std::copy(lam.begin(), lam.begin() + n, in.bar_v0);
  std::copy(lam.begin() + n, lam.end(), in.bar_states0);
  keep_storage(std::move(stored), stored_bytes);
}

// One simulation forward, its recordings into `out`; its steps are stored where they fit in
// `stored_bytes`, under the ticket returned (0 where they are not).
int64_t forward(const Model& model, const Lane& in, T* out, int64_t stored_bytes) {
  const int64_t n = model.n_nodes, n_values = model.n_values, n_steps = model.n_steps;
  const int64_t columns = n_steps + 1, size = row_size(model);
  const size_t values = n_steps * size;
  const bool store = n_steps > 0 && reserve(values, stored_bytes);
  std::vector<T> rows = take_storage((store ? n_steps : 2) * size);
  Work w(model);
  std::copy(in.v0, in.v0 + n, rows.begin());
  std::copy(in.states0, in.states0 + (n_values - n), rows.begin() + n);
  auto record = [&](const T* values, int64_t column) {
    for (int64_t r = 0; r < model.n_records; ++r) {
      out[r * columns + column] = values[model.record_slot[r]];
    }
  };
  record(rows.data(), 0);
  for (int64_t s = 0; s < n_steps; ++s) {
    T* here = rows.data() + (store ? s : s % 2) * size;
    T* next = store ? (s + 1 < n_steps ? here + size : w.next.data())
                    : rows.data() + ((s + 1) % 2) * size;
    advance(model, in, row_at(model, here), s, w, next);
    record(next, s + 1);
  }
  if (!store) {
    keep_storage(std::move(rows), stored_bytes);
    return 0;
  }
  return deposit(std::move(rows), values);
}

// The model of one simulation. Under vmap every operand carries the same leading batch
// dimensions (broadcast_all); `batch` is their product.
Model model_of(int64_t batch, int64_t n_records, int64_t columns, ffi::Buffer<kType> states0,
               ffi::Buffer<kIndex> parent, ffi::Buffer<kIndex> site_node,
               ffi::Buffer<kIndex> site_count, ffi::Buffer<kIndex> stim_row,
               ffi::Buffer<kIndex> stim_node, ffi::Buffer<kIndex> record_slot) {
  const int64_t n_nodes = static_cast<int64_t>(parent.element_count()) / batch;
  int64_t n_sites = 0;
  for (int64_t j = 0; j < kMechanisms; ++j) n_sites += site_count.typed_data()[j];
  return Model{n_nodes,
               n_nodes + static_cast<int64_t>(states0.element_count()) / batch,
               columns - 1,
               n_records,
               static_cast<int64_t>(stim_row.element_count()) / batch,
               n_sites,
               parent.typed_data(),
               site_node.typed_data(),
               site_count.typed_data(),
               stim_row.typed_data(),
               stim_node.typed_data(),
               record_slot.typed_data()};
}

// run(b) for every simulation b of a batch, on up to `threads` threads.
template <class Run>
void over_batch(int64_t batch, int64_t threads, Run run) {
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(threads, batch));
  auto some = [&](int64_t w) {
    for (int64_t b = batch * w / workers; b < batch * (w + 1) / workers; ++b) run(b);
  };
  std::vector<std::thread> pool;
  for (int64_t w = 1; w < workers; ++w) pool.emplace_back(some, w);
  some(0);
  for (auto& thread : pool) thread.join();
}

ffi::Error Forward(ffi::Buffer<kType> diag_fixed, ffi::Buffer<kType> coupling,
                   ffi::Buffer<kType> v0, ffi::Buffer<kType> states0,
                   ffi::Buffer<kType> site_values, ffi::Buffer<kType> stimulus,
                   ffi::Buffer<kIndex> parent, ffi::Buffer<kIndex> site_node,
                   ffi::Buffer<kIndex> site_count, ffi::Buffer<kIndex> stim_row,
                   ffi::Buffer<kIndex> stim_node, ffi::Buffer<kIndex> record_slot,
                   int64_t threads, int64_t stored_bytes, ffi::ResultBuffer<kType> out,
                   ffi::ResultBuffer<kIndex> ticket) {
  const auto dims = out->dimensions();
  if (dims.size() < 2) return ffi::Error::InvalidArgument("recordings must be 2-d");
  const int64_t batch = static_cast<int64_t>(ticket->element_count());
  if (batch == 0 || static_cast<int64_t>(site_count.element_count()) != batch * kMechanisms) {
    return ffi::Error::InvalidArgument("site_count does not match the generated mechanisms");
  }
  const Model model = model_of(batch, dims[dims.size() - 2], dims[dims.size() - 1], states0,
                               parent, site_node, site_count, stim_row, stim_node, record_slot);
  const int64_t n = model.n_nodes, n_states = model.n_values - n;
  const int64_t n_site_values = static_cast<int64_t>(site_values.element_count()) / batch;
  const int64_t n_stimulus = static_cast<int64_t>(stimulus.element_count()) / batch;
  const int64_t per_sim = model.n_records * (model.n_steps + 1);
  make_room(batch * model.n_steps * row_size(model), stored_bytes);
  over_batch(batch, threads, [&](int64_t b) {
    const Lane in{diag_fixed.typed_data() + b * n,
                  coupling.typed_data() + b * n,
                  v0.typed_data() + b * n,
                  states0.typed_data() + b * n_states,
                  site_values.typed_data() + b * n_site_values,
                  stimulus.typed_data() + b * n_stimulus,
                  nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr};
    ticket->typed_data()[b] =
        static_cast<Index>(forward(model, in, out->typed_data() + b * per_sim, stored_bytes));
  });
  return ffi::Error::Success();
}

ffi::Error Adjoint(ffi::Buffer<kType> diag_fixed, ffi::Buffer<kType> coupling,
                   ffi::Buffer<kType> v0, ffi::Buffer<kType> states0,
                   ffi::Buffer<kType> site_values, ffi::Buffer<kType> stimulus,
                   ffi::Buffer<kType> cotangent, ffi::Buffer<kIndex> parent,
                   ffi::Buffer<kIndex> site_node, ffi::Buffer<kIndex> site_count,
                   ffi::Buffer<kIndex> stim_row, ffi::Buffer<kIndex> stim_node,
                   ffi::Buffer<kIndex> record_slot, ffi::Buffer<kIndex> ticket,
                   int64_t threads, int64_t stored_bytes,
                   ffi::ResultBuffer<kType> bar_diag_fixed,
                   ffi::ResultBuffer<kType> bar_coupling, ffi::ResultBuffer<kType> bar_v0,
                   ffi::ResultBuffer<kType> bar_states0,
                   ffi::ResultBuffer<kType> bar_site_values,
                   ffi::ResultBuffer<kType> bar_stimulus) {
  const auto dims = cotangent.dimensions();
  if (dims.size() < 2) return ffi::Error::InvalidArgument("cotangent must be 2-d");
  const int64_t batch = static_cast<int64_t>(ticket.element_count());
  if (batch == 0 || static_cast<int64_t>(site_count.element_count()) != batch * kMechanisms) {
    return ffi::Error::InvalidArgument("site_count does not match the generated mechanisms");
  }
  const Model model = model_of(batch, dims[dims.size() - 2], dims[dims.size() - 1], states0,
                               parent, site_node, site_count, stim_row, stim_node, record_slot);
  const int64_t n = model.n_nodes, n_states = model.n_values - n;
  const int64_t n_site_values = static_cast<int64_t>(site_values.element_count()) / batch;
  const int64_t n_stimulus = static_cast<int64_t>(stimulus.element_count()) / batch;
  const int64_t per_sim = model.n_records * (model.n_steps + 1);
  over_batch(batch, threads, [&](int64_t b) {
    const Lane in{diag_fixed.typed_data() + b * n,
                  coupling.typed_data() + b * n,
                  v0.typed_data() + b * n,
                  states0.typed_data() + b * n_states,
                  site_values.typed_data() + b * n_site_values,
                  stimulus.typed_data() + b * n_stimulus,
                  cotangent.typed_data() + b * per_sim,
                  bar_diag_fixed->typed_data() + b * n,
                  bar_coupling->typed_data() + b * n,
                  bar_v0->typed_data() + b * n,
                  bar_states0->typed_data() + b * n_states,
                  bar_site_values->typed_data() + b * n_site_values,
                  bar_stimulus->typed_data() + b * n_stimulus};
    std::fill(in.bar_site_values, in.bar_site_values + n_site_values, T(0));
    std::fill(in.bar_stimulus, in.bar_stimulus + n_stimulus, T(0));
    adjoint(model, in, stored_bytes, ticket.typed_data()[b]);
  });
  return ffi::Error::Success();
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(DendraxForward, Forward,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Attr<int64_t>("threads")
                                  .Attr<int64_t>("stored_bytes")
                                  .Ret<ffi::Buffer<kType>>()
                                  .Ret<ffi::Buffer<kIndex>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(DendraxAdjoint, Adjoint,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kType>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Arg<ffi::Buffer<kIndex>>()
                                  .Attr<int64_t>("threads")
                                  .Attr<int64_t>("stored_bytes")
                                  .Ret<ffi::Buffer<kType>>()
                                  .Ret<ffi::Buffer<kType>>()
                                  .Ret<ffi::Buffer<kType>>()
                                  .Ret<ffi::Buffer<kType>>()
                                  .Ret<ffi::Buffer<kType>>()
                                  .Ret<ffi::Buffer<kType>>());
