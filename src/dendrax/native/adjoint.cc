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

@CALL@

namespace {

using T = @C_TYPE@;
constexpr int32_t kValueType = @VALUE_TYPE_ID@;
using Index = @INDEX_TYPE@;  // JAX's integer type: int64_t with jax_enable_x64, else int32_t
constexpr int32_t kIndexType = @INDEX_TYPE_ID@;
constexpr T kFactor = @FACTOR@;  // v += kFactor * delta (1: backward Euler, 2: Crank-Nicolson)
constexpr int64_t kMechanisms = @N_MECHANISMS@;
// Per-node ion rows (see IonRows in source.py), and those a mechanism writes.
constexpr int64_t kIonRows = @N_ION_ROWS@;
constexpr int64_t kWrittenRows[@N_WRITTEN@ + 1] = {@WRITTEN_ROWS@};
constexpr int64_t kScratchRows = @SCRATCH_ROWS@;  // per-site scratch rows besides v, a, b
// Per mechanism: rows of site values (its site inputs and area factor) and of states.
constexpr int64_t kParamRows[kMechanisms + 1] = {@PARAM_ROWS@};
constexpr int64_t kStateRows[kMechanisms + 1] = {@STATE_ROWS@};
constexpr int64_t kDensityRows[kMechanisms + 1] = {@DENSITY_ROWS@};  // recorded densities

@OPERANDS@

@SCALAR_MATH@

// Mechanism functions and their vector-Jacobian products, generated from jaxprs.
@MECHANISM_FUNCTIONS@

// The index operands and the sizes of a simulation.
struct Model : Indices<const Index*> {
  int64_t n_nodes, n_states, n_values, n_steps, n_records, n_stim_pairs, n_clamp_pairs,
      n_sites;
  std::vector<char> clamped;  // per node: 1 where a voltage clamp holds it
  // Per mechanism: where its sites, site values and states begin.
  int64_t site_begin[kMechanisms + 1], param_begin[kMechanisms + 1], state_begin[kMechanisms + 1],
      density_begin[kMechanisms + 1];
  int64_t n_densities;  // recorded current densities of single mechanisms, after the ion rows
};

// One simulation's operands, the cotangent of its recordings and the operands' cotangents
// (outputs).
struct Lane : Values<const T*> {
  const T* cotangent = nullptr;
  Values<T*> bar;
};

// Per-site rows, `stride` values apart: v and two values gathered from or to be scattered
// to the nodes, then `kScratchRows` more (ion inputs, flux values and their cotangents).
struct Scratch {
  T* v;
  T* a;
  T* b;
  T* g;
  int64_t stride;
};

// At the start of a step: the reversal potentials of the ions with written concentrations,
// then the sites' currents and slopes at v, summed per node (nA, µS), the ion currents and
// their slopes (mA/cm², S/cm²) summed into their rows of `ion`, and the recorded densities
// (mA/cm², per site) into `density`.
void evaluate(const Model& model, const T* v, const T* states, const T* params, T* ion,
              T* density, Scratch scratch, T* current, T* slope) {
  const int64_t n = model.n_nodes;
  @EVALUATION@
}

// Crank-Nicolson: the ion currents moved to the middle of the step.
void second_order(const Model& model, const T* delta, T* ion) {
  const int64_t n = model.n_nodes;
  @SECOND_ORDER@
}

// The states after a step to the new voltage v, into next_states: the mechanisms that write
// concentrations first, each refreshing its rows of `ion`, then the others.
void update_states(const Model& model, const T* v, const T* states, const T* params, T* ion,
                   Scratch scratch, T* next_states) {
  const int64_t n = model.n_nodes;
  @UPDATES@
}

// Cotangents through the state updates, in reverse: from the new states' lam_states (the
// writers' entries gain their refreshed rows' cotangents) to v' (added to lam_v), the old
// states (bar_states), the site inputs (bar_params) and the ion rows (lam_ion). The others
// read `ion_next` (the rows after the step), the writers `ion_eval` (as they were when the
// writers updated).
void update_vjps(const Model& model, const T* v, const T* states, const T* params,
                 const T* ion_eval, const T* ion_next, T* lam_states, Scratch scratch,
                 T* lam_v, T* bar_states, T* bar_params, T* lam_ion) {
  const int64_t n = model.n_nodes;
  @UPDATE_VJPS@
}

// Crank-Nicolson: cotangents through the ion currents' move to the middle of the step, to
// their slopes' rows and to delta (added to lam_delta).
void second_order_vjp(const Model& model, const T* delta, const T* ion_next, T* lam_ion,
                      T* lam_delta) {
  const int64_t n = model.n_nodes;
  @SECOND_ORDER_VJP@
}

// Cotangents through the site currents and slopes (lam_current, lam_slope per node), the
// ion currents (their rows of lam_ion) and the recorded densities (lam_density), all
// cleared after: of v (added to lam_v), the states (to bar_states), the site inputs and area
// scales (to bar_params) and the ion rows read (lam_ion); then through the reversal
// potentials (their rows of lam_ion, cleared after).
void evaluation_vjps(const Model& model, const T* v, const T* states, const T* params,
                     const T* ion_eval, const T* lam_current, const T* lam_slope,
                     Scratch scratch, T* lam_v, T* bar_states, T* bar_params, T* lam_ion,
                     T* lam_density) {
  const int64_t n = model.n_nodes;
  @EVALUATION_VJPS@
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
  if (storage.empty()) return;
  std::lock_guard<std::mutex> lock(kept_mutex);
  size_t total = storage.size();
  for (const auto& other : kept) total += other.size();
  if (static_cast<double>(total) * sizeof(T) <= static_cast<double>(stored_bytes)) {
    kept.push_back(std::move(storage));
  }
}

// Steps stored by forward passes (dendrax_forward) for their backward passes, by ticket, and
// the values reserved for them: at most `stored_bytes` in all.
struct Deposit {
  std::vector<T> rows;  // every step's row and the values after the last, or checkpoints
  size_t reserved;
  int64_t segment;  // 0: every step; else the values at the start of every segment steps
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

int64_t deposit(std::vector<T>&& rows, size_t values, int64_t segment) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  // Tickets count up to the largest Index and start again at 1 (entries that old are gone).
  last_ticket = last_ticket == std::numeric_limits<Index>::max() ? 1 : last_ticket + 1;
  auto old = deposited.find(last_ticket);
  if (old != deposited.end()) {
    reserved -= old->second.reserved;
    deposited.erase(old);
  }
  deposited.emplace(last_ticket, Deposit{std::move(rows), values, segment});
  return last_ticket;
}

// What is stored under `ticket` (nothing if it was dropped or taken before).
Deposit withdraw(int64_t ticket) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  auto it = deposited.find(ticket);
  if (it == deposited.end()) return Deposit{{}, 0, 0};
  Deposit taken = std::move(it->second);
  reserved -= taken.reserved;
  deposited.erase(it);
  return taken;
}

// Steps per segment of a run recomputed from checkpoints: about sqrt(n_steps).
int64_t segment_length(int64_t n_steps) {
  return std::max<int64_t>(1, std::ceil(std::sqrt(static_cast<double>(n_steps))));
}

struct Work {
  explicit Work(const Model& m)
      : site_v(m.n_sites), site_a(m.n_sites), site_b(m.n_sites),
        site_g(kScratchRows * m.n_sites), current(m.n_nodes), slope(m.n_nodes),
        injected(m.n_nodes), flow(m.n_clamp_pairs ? m.n_nodes : 0),
        from_children(m.n_clamp_pairs ? m.n_nodes : 0), rhs(m.n_nodes),
        factor(m.n_nodes), inverse(m.n_nodes), lam_v_new(m.n_nodes), lam_rhs(m.n_nodes),
        lam_current(m.n_nodes), lam_slope(m.n_nodes), ion_eval(kIonRows * m.n_nodes),
        next(m.n_values), known(m.n_clamp_pairs ? m.n_nodes : 0),
        known_flow(m.n_clamp_pairs ? m.n_nodes : 0),
        step_coupling(m.n_clamp_pairs ? m.n_nodes : 0) {}
  Scratch scratch() {
    return Scratch{site_v.data(), site_a.data(), site_b.data(), site_g.data(),
                   static_cast<int64_t>(site_v.size())};
  }
  std::vector<T> site_v, site_a, site_b, site_g, current, slope, injected, flow, from_children,
      rhs, factor, inverse, lam_v_new, lam_rhs, lam_current, lam_slope, ion_eval, next, known,
      known_flow, step_coupling;
  // The coupling of the tree solve: the axial coupling, 0 on a clamped node's edges.
  const T* solve_coupling(const Model& m, const Lane& in) const {
    return m.n_clamp_pairs ? step_coupling.data() : in.coupling;
  }
  // Before the first step of a simulation.
  void prepare(const Model& m, const Lane& in) {
    for (int64_t i = 0; i < static_cast<int64_t>(step_coupling.size()); ++i) {
      const bool decoupled = m.clamped[i] || m.clamped[m.parent[i]];
      step_coupling[i] = decoupled ? T(0) : in.coupling[i];
    }
  }
};

// The known changes of the clamped nodes in `step`, (command - v) / kFactor, into w.known.
void known_changes(const Model& model, const Lane& in, const T* v, int64_t step, Work& w) {
  std::fill(w.known.begin(), w.known.end(), T(0));
  for (int64_t k = 0; k < model.n_clamp_pairs; ++k) {
    const int64_t node = model.clamp_node[k];
    const int64_t at = model.clamp_row[k] * model.n_steps + step;
    w.known[node] = (in.commands[at] - v[node]) / kFactor;
  }
}

// Voltage clamps (as kernel.cc and dendrax/solve/stepping.py): a clamped node's change is
// known, (command - v) / kFactor; its column moves to the right-hand side of its neighbours
// and its row becomes delta = known.
void clamp(const Model& model, const Lane& in, const T* v, int64_t step, Work& w, T* diag) {
  const int64_t n = model.n_nodes;
  const char* clamped = model.clamped.data();
  known_changes(model, in, v, step, w);
  std::fill(w.known_flow.begin(), w.known_flow.end(), T(0));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    const T c = in.coupling[i];
    w.rhs[i] = w.rhs[i] + (clamped[p] ? c * w.known[p] : T(0));
    if (p != i) w.known_flow[p] += clamped[i] ? c * w.known[i] : T(0);
  }
  for (int64_t i = 0; i < n; ++i) {
    w.rhs[i] = w.rhs[i] + w.known_flow[i];
    if (clamped[i]) {
      diag[i] = T(1);
      w.rhs[i] = w.known[i];
    }
  }
}

// Cotangents through `clamp`: `lam_rhs` holds those of the right-hand side after it; on
// return, those before it (0 at clamped nodes, whose rows it replaced). The commands', v's
// (into lam_v) and the couplings' (into bar_coupling) are added.
void clamp_vjp(const Model& model, const Lane& in, const T* v, int64_t step, Work& w,
               T* lam_rhs, T* lam_v) {
  const int64_t n = model.n_nodes;
  const char* clamped = model.clamped.data();
  T* lam_known = w.known_flow.data();  // its forward values are not needed
  known_changes(model, in, v, step, w);
  for (int64_t i = 0; i < n; ++i) {
    lam_known[i] = clamped[i] ? lam_rhs[i] : T(0);
    lam_rhs[i] = clamped[i] ? T(0) : lam_rhs[i];
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    const T c = in.coupling[i];
    if (clamped[p]) {
      lam_known[p] += c * lam_rhs[i];
      in.bar.coupling[i] += w.known[p] * lam_rhs[i];
    }
    if (p != i && clamped[i]) {
      lam_known[i] += c * lam_rhs[p];
      in.bar.coupling[i] += w.known[i] * lam_rhs[p];
    }
  }
  for (int64_t k = 0; k < model.n_clamp_pairs; ++k) {
    const int64_t node = model.clamp_node[k];
    const int64_t at = model.clamp_row[k] * model.n_steps + step;
    in.bar.commands[at] += lam_known[node] / kFactor;
    lam_v[node] -= lam_known[node] / kFactor;
    lam_known[node] = T(0);  // a node held by several clamps: the last one's command
  }
}

// One forward step (kernel.cc's arithmetic, in its order) from row.values to `next_values`,
// filling the rest of the row. The ion rows are worked on in `next_values`: there, after the
// step, are the reversal potentials and ion currents of the step and the concentrations
// after it.
void advance(const Model& model, const Lane& in, const Row& row, int64_t step, Work& w,
             T* next_values) {
  const int64_t n = model.n_nodes;
  const T* v = row.values;
  const T* states = v + n;
  T* ion = next_values + n + model.n_states;
  T* diag = row.diag;
  T* delta = row.delta;
  std::copy(states + model.n_states, states + model.n_states + kIonRows * n, ion);
  std::fill(w.current.begin(), w.current.end(), T(0));
  std::fill(w.slope.begin(), w.slope.end(), T(0));
  evaluate(model, v, states, in.site_values, ion, ion + kIonRows * n, w.scratch(),
           w.current.data(), w.slope.data());
  std::fill(w.injected.begin(), w.injected.end(), T(0));
  for (int64_t k = 0; k < model.n_stim_pairs; ++k) {
    w.injected[model.stim_node[k]] += in.stimulus[model.stim_row[k] * model.n_steps + step];
  }
  for (int64_t i = 0; i < n; ++i) {
    w.rhs[i] = w.injected[i] - w.current[i];
    diag[i] = in.diag_fixed[i] + w.slope[i];
  }
  const bool clamps = model.n_clamp_pairs > 0;
  if (clamps) {  // the axial currents, then the clamps (without clamps: in the sweep)
    std::fill(w.from_children.begin(), w.from_children.end(), T(0));
    for (int64_t i = 0; i < n; ++i) {
      w.flow[i] = in.coupling[i] * (v[model.parent[i]] - v[i]);
    }
    for (int64_t i = 0; i < n; ++i) {
      const int64_t p = model.parent[i];
      if (p != i) w.from_children[p] += w.flow[i];
    }
    for (int64_t i = 0; i < n; ++i) w.rhs[i] = w.rhs[i] + (w.flow[i] - w.from_children[i]);
    clamp(model, in, v, step, w, diag);
  }
  const T* coupling = w.solve_coupling(model, in);
  // The tree solve as kernel.cc's: elimination from the leaves, the parent's values carried
  // in registers where it is the previous node, each node's eliminated diagonal kept in
  // `diag`, the axial currents joining the right-hand sides in the sweep where no node is
  // clamped; then delta[i] = scaled_rhs[i] + up[i] delta[parent], one multiply-add a node.
  T* up = w.factor.data();
  T* scaled_rhs = w.inverse.data();
  T d = n > 0 ? diag[n - 1] : T(0), r = n > 0 ? w.rhs[n - 1] : T(0);
  for (int64_t i = n - 1; i >= 0; --i) {
    const int64_t p = model.parent[i];
    const T c = coupling[i];
    const T flow_in = clamps ? T(0) : c * (v[p] - v[i]);
    r = r + flow_in;
    const T factor = c / d;
    diag[i] = d;
    up[i] = factor;
    scaled_rhs[i] = r / d;
    if (p == i - 1) {
      d = diag[p] - factor * c;
      r = (w.rhs[p] - flow_in) + factor * r;
    } else {
      if (p != i) {
        diag[p] -= factor * c;
        w.rhs[p] = (w.rhs[p] - flow_in) + factor * r;
      }
      if (i > 0) {
        d = diag[i - 1];
        r = w.rhs[i - 1];
      }
    }
  }
  T previous = T(0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    const T parent_delta = p == i - 1 ? previous : (p == i ? T(0) : delta[p]);
    previous = scaled_rhs[i] + up[i] * parent_delta;
    delta[i] = previous;
  }
  for (int64_t i = 0; i < n; ++i) next_values[i] = v[i] + kFactor * delta[i];
  second_order(model, delta, ion);
  update_states(model, next_values, states, in.site_values, ion, w.scratch(), next_values + n);
}

// One backward step: `lam` holds the cotangents of the values after the step of `row`
// (`next_values`); on return, those of the values before it.
void backward_step(const Model& model, const Lane& in, const Row& row, const T* next_values,
                   int64_t step, Work& w, T* lam) {
  const int64_t n = model.n_nodes, n_states = model.n_states;
  const T* v = row.values;
  const T* states = v + n;
  const T* delta = row.delta;
  const T* diag = row.diag;
  const T* ion_next = next_values + n + n_states;
  T* ion_eval = w.ion_eval.data();  // the rows as the currents and the writers saw them
  std::copy(ion_next, ion_next + kIonRows * n, ion_eval);
  for (int64_t r = 0; r < @N_WRITTEN@; ++r) {
    const T* start = states + n_states + kWrittenRows[r] * n;
    std::copy(start, start + n, ion_eval + kWrittenRows[r] * n);
  }
  T* lam_ion = lam + n + n_states;
  T* next = w.next.data();
  std::fill(next, next + n + n_states, T(0));
  std::copy(lam, lam + n, w.lam_v_new.begin());
  update_vjps(model, next_values, states, in.site_values, ion_eval, ion_next, lam + n,
              w.scratch(), w.lam_v_new.data(), next + n, in.bar.site_values, lam_ion);
  T* lam_rhs = w.lam_rhs.data();
  for (int64_t i = 0; i < n; ++i) {
    next[i] = w.lam_v_new[i];
    lam_rhs[i] = kFactor * w.lam_v_new[i];
  }
  second_order_vjp(model, delta, ion_next, lam_ion, lam_rhs);
  // lam_rhs = A^-1 lam_delta, with A's elimination kept from the forward solve; the
  // divisions first, all at once (they vectorise), out of the sequential sweeps.
  T* factor = w.factor.data();
  T* inverse = w.inverse.data();
  const T* coupling = w.solve_coupling(model, in);
  for (int64_t i = 0; i < n; ++i) {
    inverse[i] = T(1) / diag[i];
    factor[i] = coupling[i] * inverse[i];
  }
  // As in the forward solve, the parent's value is carried in a register where it is the
  // previous node.
  T r = n > 0 ? lam_rhs[n - 1] : T(0);
  for (int64_t i = n - 1; i >= 0; --i) {
    const int64_t p = model.parent[i];
    lam_rhs[i] = r;
    if (p == i - 1) {
      r = lam_rhs[p] + factor[i] * r;
    } else {
      if (p != i) lam_rhs[p] += factor[i] * r;
      if (i > 0) r = lam_rhs[i - 1];
    }
  }
  // The coupling c_i is in A at (i, parent) and (parent, i) as -c_i, and the axial
  // current c_i (v_p - v_i) enters rhs_i and leaves rhs_p. Without clamps both are swept
  // back within the substitution (which waits on its chain of multiply-adds), each node's
  // once its own and its parent's lam_rhs are final.
  auto matrix_vjp = [&](int64_t i, int64_t p) {
    in.bar.coupling[i] += lam_rhs[i] * delta[p] + lam_rhs[p] * delta[i];
  };
  auto flow_vjp = [&](int64_t i, int64_t p) {
    const T lam_flow = lam_rhs[i] - lam_rhs[p];
    in.bar.coupling[i] += lam_flow * (v[p] - v[i]);
    next[p] += lam_flow * in.coupling[i];
    next[i] -= lam_flow * in.coupling[i];
  };
  const bool clamps = model.n_clamp_pairs > 0;
  T previous = T(0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    const T parent_value = p == i - 1 ? previous : (p == i ? T(0) : lam_rhs[p]);
    previous = lam_rhs[i] * inverse[i] + factor[i] * parent_value;
    lam_rhs[i] = previous;
    if (!clamps && p != i) {
      matrix_vjp(i, p);
      flow_vjp(i, p);
    }
  }
  if (clamps) {  // a coupling that a clamp decoupled is not in A
    for (int64_t i = 0; i < n; ++i) {
      const int64_t p = model.parent[i];
      if (p != i && !model.clamped[i] && !model.clamped[p]) matrix_vjp(i, p);
    }
    clamp_vjp(model, in, v, step, w, lam_rhs, next);
  }
  for (int64_t i = 0; i < n; ++i) {
    w.lam_slope[i] = -lam_rhs[i] * delta[i];
    w.lam_current[i] = -lam_rhs[i];
    in.bar.diag_fixed[i] += w.lam_slope[i];
  }
  if (clamps) {
    for (int64_t i = 0; i < n; ++i) {
      const int64_t p = model.parent[i];
      if (p != i) flow_vjp(i, p);
    }
  }
  for (int64_t k = 0; k < model.n_stim_pairs; ++k) {
    in.bar.stimulus[model.stim_row[k] * model.n_steps + step] += lam_rhs[model.stim_node[k]];
  }
  evaluation_vjps(model, v, states, in.site_values, ion_eval, w.lam_current.data(),
                  w.lam_slope.data(), w.scratch(), next, next + n, in.bar.site_values,
                  lam_ion, lam_ion + kIonRows * n);
  std::copy(next, next + n + n_states, lam);
}

// The values at the start of a simulation: v0, the states and the ion rows, with the
// reversal potentials, ion currents and recorded densities of the initial state (recorded
// at t = 0).
void initial_values(const Model& model, const Lane& in, Work& w, T* values) {
  const int64_t n = model.n_nodes;
  std::copy(in.v0, in.v0 + n, values);
  std::copy(in.states0, in.states0 + model.n_states, values + n);
  T* ion = values + n + model.n_states;
  std::copy(in.ion_values, in.ion_values + kIonRows * n, ion);
  if (kIonRows == 0 && model.n_densities == 0) return;
  std::fill(w.current.begin(), w.current.end(), T(0));
  std::fill(w.slope.begin(), w.slope.end(), T(0));
  evaluate(model, values, values + n, in.site_values, ion, ion + kIonRows * n, w.scratch(),
           w.current.data(), w.slope.data());
}

// Cotangents through `initial_values`' evaluation: `lam` holds those of the evaluated
// values; on return, those of v0, the states and the ion values.
void initial_values_vjp(const Model& model, const Lane& in, Work& w, T* lam) {
  if (kIonRows == 0 && model.n_densities == 0) return;
  const int64_t n = model.n_nodes;
  initial_values(model, in, w, w.next.data());
  const auto ion = w.next.begin() + n + model.n_states;
  std::copy(ion, ion + kIonRows * n, w.ion_eval.begin());
  std::fill(w.lam_current.begin(), w.lam_current.end(), T(0));
  std::fill(w.lam_slope.begin(), w.lam_slope.end(), T(0));
  T* lam_ion = lam + n + model.n_states;
  evaluation_vjps(model, in.v0, in.states0, in.site_values, w.ion_eval.data(),
                  w.lam_current.data(), w.lam_slope.data(), w.scratch(), lam, lam + n,
                  in.bar.site_values, lam_ion, lam_ion + kIonRows * n);
}

// The cotangents of one simulation. Its steps are stored `segment` at a time (with the
// values after the segment's last step): every step at once where they fit in
// `stored_bytes`, else about sqrt(n_steps) per segment.
void adjoint(const Model& model, const Lane& in, int64_t stored_bytes, int64_t ticket) {
  const int64_t n = model.n_nodes, n_values = model.n_values, n_steps = model.n_steps;
  const int64_t columns = n_steps + 1, size = row_size(model);
  Work w(model);
  w.prepare(model, in);
  std::vector<T> lam(n_values, T(0));
  auto add_recorded = [&](int64_t column) {
    for (int64_t r = 0; r < model.n_records; ++r) {
      lam[model.record_slot[r]] += in.cotangent[r * columns + column];
    }
  };
  auto finish = [&](std::vector<T>&& storage) {
    initial_values_vjp(model, in, w, lam.data());
    std::copy(lam.begin(), lam.begin() + n, in.bar.v0);
    std::copy(lam.begin() + n, lam.begin() + n + model.n_states, in.bar.states0);
    const auto lam_ion = lam.begin() + n + model.n_states;
    std::copy(lam_ion, lam_ion + kIonRows * n, in.bar.ion_values);
    keep_storage(std::move(storage), stored_bytes);
  };
  add_recorded(n_steps);
  Deposit deposited = ticket ? withdraw(ticket) : Deposit{{}, 0, 0};
  if (n_steps > 0 && deposited.segment == 0 &&
      static_cast<int64_t>(deposited.rows.size()) >= (n_steps + 1) * size) {
    for (int64_t s = n_steps - 1; s >= 0; --s) {
      T* here = deposited.rows.data() + s * size;
      backward_step(model, in, row_at(model, here), here + size, s, w, lam.data());
      add_recorded(s);
    }
    finish(std::move(deposited.rows));
    return;
  }
  // Checkpoints: the values at the start of every segment, from the forward pass or
  // recomputed here.
  int64_t length = deposited.segment;
  const bool recompute = length == 0;
  if (recompute) {
    length = std::max<int64_t>(1, n_steps);
    if (static_cast<double>(length + 1) * size * sizeof(T) > static_cast<double>(stored_bytes)) {
      length = segment_length(n_steps);
    }
  }
  const int64_t n_segments = (n_steps + length - 1) / length;
  std::vector<T> checkpoints;
  if (!recompute) {
    checkpoints = std::move(deposited.rows);
  } else {
    keep_storage(std::move(deposited.rows), stored_bytes);
    checkpoints.resize(n_segments * n_values);
    std::vector<T> scratch_row(size);
    const Row scratch = row_at(model, scratch_row.data());
    if (n_segments > 0) initial_values(model, in, w, checkpoints.data());
    std::vector<T> values(checkpoints.begin(), checkpoints.begin() + (n_segments ? n_values : 0));
    for (int64_t s = 0; s < (n_segments - 1) * length; ++s) {
      std::copy(values.begin(), values.end(), scratch.values);
      advance(model, in, scratch, s, w, values.data());
      if ((s + 1) % length == 0) {
        std::copy(values.begin(), values.end(), checkpoints.begin() + (s + 1) / length * n_values);
      }
    }
  }
  std::vector<T> stored = take_storage((length + 1) * size);
  for (int64_t g = n_segments - 1; g >= 0; --g) {
    const int64_t first = g * length, last = std::min(n_steps, first + length);
    std::copy(checkpoints.begin() + g * n_values, checkpoints.begin() + (g + 1) * n_values,
              stored.begin());
    for (int64_t s = first; s < last; ++s) {
      T* here = stored.data() + (s - first) * size;
      advance(model, in, row_at(model, here), s, w, here + size);
    }
    for (int64_t s = last - 1; s >= first; --s) {
      T* here = stored.data() + (s - first) * size;
      backward_step(model, in, row_at(model, here), here + size, s, w, lam.data());
      add_recorded(s);
    }
  }
  keep_storage(std::move(checkpoints), stored_bytes);
  finish(std::move(stored));
}

// One simulation forward, its recordings into `out`. Its steps (and the values after the
// last) are stored where they fit in `stored_bytes`, else checkpoints every
// `segment_length` steps where those fit, under the ticket returned (0 where neither fits).
int64_t forward(const Model& model, const Lane& in, T* out, int64_t stored_bytes) {
  const int64_t n_steps = model.n_steps, n_values = model.n_values;
  const int64_t columns = n_steps + 1, size = row_size(model);
  const int64_t segment = segment_length(n_steps);
  const size_t values = (n_steps + 1) * size;
  const size_t checkpoint_values = (n_steps + segment - 1) / segment * n_values;
  const bool store = n_steps > 0 && reserve(values, stored_bytes);
  const bool checkpoint = n_steps > 0 && !store && reserve(checkpoint_values, stored_bytes);
  std::vector<T> rows = take_storage((store ? n_steps + 1 : 2) * size);
  std::vector<T> checkpoints = checkpoint ? take_storage(checkpoint_values) : std::vector<T>();
  Work w(model);
  w.prepare(model, in);
  initial_values(model, in, w, rows.data());
  auto record = [&](const T* values, int64_t column) {
    for (int64_t r = 0; r < model.n_records; ++r) {
      out[r * columns + column] = values[model.record_slot[r]];
    }
  };
  record(rows.data(), 0);
  for (int64_t s = 0; s < n_steps; ++s) {
    T* here = rows.data() + (store ? s : s % 2) * size;
    T* next = store ? here + size : rows.data() + ((s + 1) % 2) * size;
    if (checkpoint && s % segment == 0) {
      std::copy(here, here + n_values, checkpoints.begin() + s / segment * n_values);
    }
    advance(model, in, row_at(model, here), s, w, next);
    record(next, s + 1);
  }
  if (store) return deposit(std::move(rows), values, 0);
  keep_storage(std::move(rows), stored_bytes);
  return checkpoint ? deposit(std::move(checkpoints), checkpoint_values, segment) : 0;
}

// The model of one simulation of `operands`, whose recordings have `n_records` rows and
// `columns` columns.
Model model_of(const Operands& operands, int64_t n_records, int64_t columns) {
  Model model;
  static_cast<Indices<const Index*>&>(model) = operands.index;
  model.n_nodes = operands.count.parent;
  model.n_states = operands.size.states0;
  model.site_begin[0] = model.param_begin[0] = model.state_begin[0] = 0;
  model.density_begin[0] = 0;
  for (int64_t j = 0; j < kMechanisms; ++j) {
    const int64_t count = model.site_count[j];
    model.site_begin[j + 1] = model.site_begin[j] + count;
    model.param_begin[j + 1] = model.param_begin[j] + kParamRows[j] * count;
    model.state_begin[j + 1] = model.state_begin[j] + kStateRows[j] * count;
    model.density_begin[j + 1] = model.density_begin[j] + kDensityRows[j] * count;
  }
  model.n_sites = model.site_begin[kMechanisms];
  model.n_densities = model.density_begin[kMechanisms];
  model.n_values = model.n_nodes + model.n_states + kIonRows * model.n_nodes + model.n_densities;
  model.n_steps = columns - 1;
  model.n_records = n_records;
  model.n_stim_pairs = operands.count.stim_row;
  model.n_clamp_pairs = operands.count.clamp_row;
  model.clamped.assign(model.n_nodes, 0);
  for (int64_t k = 0; k < model.n_clamp_pairs; ++k) model.clamped[model.clamp_node[k]] = 1;
  return model;
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

}  // namespace

// The forward pass of a gradient (call.h): the operands of dendrax/native/operands.py; two
// results, the recordings (rows x columns per simulation) and per simulation the ticket
// under which its steps are stored for `dendrax_adjoint`.
extern "C" const char* dendrax_forward(const DendraxCall* call) {
  if (call->n_results != 2 || call->results[0].rank < 2) return "recordings must be 2-d";
  const DendraxBuffer& out = call->results[0];
  const int64_t batch = call->results[1].count;
  Operands operands;
  if (const char* error = read_operands(*call, batch, operands)) return error;
  const Model model = model_of(operands, out.dims[out.rank - 2], out.dims[out.rank - 1]);
  const int64_t per_sim = model.n_records * (model.n_steps + 1);
  Index* tickets = static_cast<Index*>(call->results[1].data);
  make_room(batch * (model.n_steps + 1) * row_size(model), call->stored_bytes);
  over_batch(batch, call->threads, [&](int64_t b) {
    Lane in;
    static_cast<Values<const T*>&>(in) = operands.at(b);
    T* recordings = static_cast<T*>(out.data) + b * per_sim;
    tickets[b] = static_cast<Index>(forward(model, in, recordings, call->stored_bytes));
  });
  return nullptr;
}

// The cotangents (call.h): the operands of dendrax/native/operands.py, the recordings'
// cotangent and the tickets of `dendrax_forward`; one result per field of Values, in order.
extern "C" const char* dendrax_adjoint(const DendraxCall* call) {
  if (call->n_args != kValueOperands + kIndexOperands + 2) return "dendrax: adjoint operands";
  if (call->n_results != kValueOperands) return "dendrax: one cotangent per value operand";
  const DendraxBuffer& cotangent = call->args[kValueOperands + kIndexOperands];
  const DendraxBuffer& tickets = call->args[kValueOperands + kIndexOperands + 1];
  const int64_t batch = tickets.count;
  if (cotangent.rank < 2) return "cotangent must be 2-d";
  Operands operands;
  if (const char* error = read_operands(*call, batch, operands)) return error;
  const Model model =
      model_of(operands, cotangent.dims[cotangent.rank - 2], cotangent.dims[cotangent.rank - 1]);
  const int64_t per_sim = model.n_records * (model.n_steps + 1);
  for (int64_t k = 0; k < kValueOperands; ++k) {
    T* data = static_cast<T*>(call->results[k].data);
    std::fill(data, data + call->results[k].count, T(0));
  }
  over_batch(batch, call->threads, [&](int64_t b) {
    Lane in;
    static_cast<Values<const T*>&>(in) = operands.at(b);
    in.bar = values_at<T*>(call->results, batch, b);
    in.cotangent = static_cast<const T*>(cotangent.data) + b * per_sim;
    adjoint(model, in, call->stored_bytes, static_cast<const Index*>(tickets.data)[b]);
  });
  return nullptr;
}
