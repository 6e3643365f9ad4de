// dendrax native adjoint: the vector-Jacobian product of a whole simulation in one call.
//
// This file is a template: dendrax/native/adjoint_source.py fills in the @NAMES@ (value type,
// solver factor, the step of step.h with its mechanisms, the vector-Jacobian products of the
// mechanisms' functions generated from jaxprs and the loops that apply them). The forward
// step is step.h's (the forward kernel's): site currents and slopes at v, stimuli, axial
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
// The sweep needs each step's values and the solve's eliminated diagonal (delta it takes
// from the values after the step: (v' - v) / kFactor, within half an ulp of v' of the
// solve's): one forward pass stores them for all steps where they fit in the group's share
// of `stored_bytes`; else it keeps checkpoints, in as many levels as that share needs
// (checkpoint_schedule.h, Griewank 1992), and the backward pass recomputes one segment at a
// time from them, about one more forward pass per level. A batch runs in groups of kLanes
// simulations, as in the forward kernel (step.h), each group's steps stored under one ticket.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>  // SSE2 streaming stores (immintrin.h takes 10x as long to parse)
#endif
#include <limits>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#ifndef DENDRAX_PART
#error "compile with -DDENDRAX_PART=0 (single simulations) or 1 (lane groups)"
#endif
#ifndef DENDRAX_UNIT
#error "compile with -DDENDRAX_UNIT=2 (the whole), or 0 (the sweeps) and 1 (the VJPs' loops)"
#endif

@BUFFER@

@CALL@

@CHECKPOINT_SCHEDULE@

namespace {

// The concentrations that a mechanism writes: their rows (see IonRows in source.py).
constexpr int64_t kWrittenRows[@N_WRITTEN@ + 1] = {@WRITTEN_ROWS@};

@STEP@

}  // namespace

// Where the machine has cores to spare (dendrax/native/library.py), the loops of the
// vector-Jacobian products over sites (below) are a compile unit of their own
// (-DDENDRAX_UNIT=1), compiled beside the rest (0) by a second compiler process and linked
// with it into one library: a model's adjoint is then ready in about the time of the larger
// unit. They meet through these functions, hidden in the library, for the lane width of the
// part (W = kPartLanes). -DDENDRAX_UNIT=2 compiles the whole in one unit.
constexpr int kPartLanes = DENDRAX_PART == 0 ? 1 : kLanes;
#define DENDRAX_HIDDEN __attribute__((visibility("hidden")))
extern "C" {
DENDRAX_HIDDEN void dendrax_update_vjps(const Model& model, const T* v, const T* states,
                                        const T* params, const T* ion_eval, const T* ion_next,
                                        T* lam_states, Scratch scratch, T* lam_v,
                                        T* bar_states, T* bar_params, T* lam_ion, T t);
DENDRAX_HIDDEN void dendrax_second_order_vjp(const Model& model, const T* delta,
                                             const T* ion_next, T* lam_ion, T* lam_delta);
DENDRAX_HIDDEN void dendrax_evaluation_vjps(const Model& model, const T* v, const T* states,
                                            const T* params, const T* ion_eval,
                                            const T* lam_current, const T* lam_slope,
                                            Scratch scratch, T* lam_v, T* bar_states,
                                            T* bar_params, T* lam_ion, T* lam_density, T t);
}

#if DENDRAX_UNIT != 0
namespace {

// Vector-Jacobian products of the mechanisms' functions, generated from jaxprs.
@VJP_FUNCTIONS@

// Cotangents through the state updates, in reverse: from the new states' lam_states (the
// writers' entries gain their refreshed rows' cotangents) to v' (added to lam_v), the old
// states (set in bar_states: every state row is some mechanism's, whose update sets it
// first), the site inputs (added to bar_params) and the ion rows (lam_ion). The others
// read `ion_next` (the rows after the step), the writers `ion_eval` (as they were when the
// writers updated).
template <int W>
void update_vjps(const Model& model, const T* v, const T* states, const T* params,
                 const T* ion_eval, const T* ion_next, T* lam_states, Scratch scratch,
                 T* lam_v, T* bar_states, T* bar_params, T* lam_ion, T t) {
  const int64_t n = model.n_nodes;
  @UPDATE_VJPS@
}

// Crank-Nicolson: cotangents through the ion currents' move to the middle of the step, to
// their slopes' rows and to delta (added to lam_delta).
template <int W>
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
template <int W>
void evaluation_vjps(const Model& model, const T* v, const T* states, const T* params,
                     const T* ion_eval, const T* lam_current, const T* lam_slope,
                     Scratch scratch, T* lam_v, T* bar_states, T* bar_params, T* lam_ion,
                     T* lam_density, T t) {
  const int64_t n = model.n_nodes;
  @EVALUATION_VJPS@
}

}  // namespace
#endif

#if DENDRAX_UNIT == 1
void dendrax_update_vjps(const Model& model, const T* v, const T* states, const T* params,
                         const T* ion_eval, const T* ion_next, T* lam_states, Scratch scratch,
                         T* lam_v, T* bar_states, T* bar_params, T* lam_ion, T t) {
  update_vjps<kPartLanes>(model, v, states, params, ion_eval, ion_next, lam_states, scratch,
                          lam_v, bar_states, bar_params, lam_ion, t);
}

void dendrax_second_order_vjp(const Model& model, const T* delta, const T* ion_next,
                              T* lam_ion, T* lam_delta) {
  second_order_vjp<kPartLanes>(model, delta, ion_next, lam_ion, lam_delta);
}

void dendrax_evaluation_vjps(const Model& model, const T* v, const T* states, const T* params,
                             const T* ion_eval, const T* lam_current, const T* lam_slope,
                             Scratch scratch, T* lam_v, T* bar_states, T* bar_params,
                             T* lam_ion, T* lam_density, T t) {
  evaluation_vjps<kPartLanes>(model, v, states, params, ion_eval, lam_current, lam_slope,
                              scratch, lam_v, bar_states, bar_params, lam_ion, lam_density, t);
}

#else
namespace {

// Vector-Jacobian products of the mechanisms' receiving an event, generated from jaxprs.
@RECEIVE_VJP_FUNCTIONS@

#if DENDRAX_UNIT == 0
template <int W>
void update_vjps(const Model& model, const T* v, const T* states, const T* params,
                 const T* ion_eval, const T* ion_next, T* lam_states, Scratch scratch,
                 T* lam_v, T* bar_states, T* bar_params, T* lam_ion, T t) {
  static_assert(W == kPartLanes, "a part's adjoint runs its own lane width");
  dendrax_update_vjps(model, v, states, params, ion_eval, ion_next, lam_states, scratch, lam_v,
                      bar_states, bar_params, lam_ion, t);
}

template <int W>
void second_order_vjp(const Model& model, const T* delta, const T* ion_next, T* lam_ion,
                      T* lam_delta) {
  static_assert(W == kPartLanes, "a part's adjoint runs its own lane width");
  dendrax_second_order_vjp(model, delta, ion_next, lam_ion, lam_delta);
}

template <int W>
void evaluation_vjps(const Model& model, const T* v, const T* states, const T* params,
                     const T* ion_eval, const T* lam_current, const T* lam_slope,
                     Scratch scratch, T* lam_v, T* bar_states, T* bar_params, T* lam_ion,
                     T* lam_density, T t) {
  static_assert(W == kPartLanes, "a part's adjoint runs its own lane width");
  dendrax_evaluation_vjps(model, v, states, params, ion_eval, lam_current, lam_slope, scratch,
                          lam_v, bar_states, bar_params, lam_ion, lam_density, t);
}
#endif

}  // namespace

// The stored steps, shared by the two parts of the library (step.h), defined in part 0 (part
// 1 is linked against it): the
// storage kept between calls up to `stored_bytes` in all (fresh memory of this size costs a
// page fault per page on first touch: measured, as much time as the backward sweep itself),
// and the steps stored by forward passes (dendrax_forward) for their backward passes, by
// ticket, with the values reserved for them (at most `stored_bytes` in all).
namespace dendrax_stored {
struct Deposit {
  Storage rows;  // every step's row and the values after the last, or see Layout
  size_t reserved;
  std::vector<int64_t> lengths;  // the schedule's (Layout): none where every step is stored
  EventLog events;               // the run's deliveries and spikes (step.h)
};
extern std::mutex kept_mutex;
extern std::vector<Storage> kept;
extern std::map<int64_t, Deposit> deposited;
extern size_t reserved;
extern int64_t last_ticket;
#if DENDRAX_PART != 1
std::mutex kept_mutex;
std::vector<Storage> kept;
std::map<int64_t, Deposit> deposited;
size_t reserved = 0;
int64_t last_ticket = 0;
#endif
}  // namespace dendrax_stored

namespace {

using namespace dendrax_stored;

Storage take_storage(size_t size) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  auto best = kept.end();
  for (auto it = kept.begin(); it != kept.end(); ++it) {
    if (it->size() >= size && (best == kept.end() || it->size() < best->size())) best = it;
  }
  if (best == kept.end()) return Storage(size);
  Storage storage = std::move(*best);
  kept.erase(best);
  return storage;
}

void keep_storage(Storage&& storage, int64_t stored_bytes) {
  if (storage.empty()) return;
  std::lock_guard<std::mutex> lock(kept_mutex);
  size_t total = storage.size();
  for (const auto& other : kept) total += other.size();
  if (static_cast<double>(total) * sizeof(T) <= static_cast<double>(stored_bytes)) {
    kept.push_back(std::move(storage));
  }
}

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

// Room for one group's steps, if they fit.
bool reserve(size_t values, int64_t stored_bytes) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  if (static_cast<double>(reserved + values) * sizeof(T) > static_cast<double>(stored_bytes)) {
    return false;
  }
  reserved += values;
  return true;
}

int64_t deposit(Storage&& rows, size_t values, const std::vector<int64_t>& lengths,
                EventLog&& events) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  // Tickets count up to the largest Index and start again at 1 (entries that old are gone).
  last_ticket = last_ticket == std::numeric_limits<Index>::max() ? 1 : last_ticket + 1;
  auto old = deposited.find(last_ticket);
  if (old != deposited.end()) {
    reserved -= old->second.reserved;
    deposited.erase(old);
  }
  deposited.emplace(last_ticket, Deposit{std::move(rows), values, lengths, std::move(events)});
  return last_ticket;
}

// What is stored under `ticket` (nothing if it was dropped or taken before).
Deposit withdraw(int64_t ticket) {
  std::lock_guard<std::mutex> lock(kept_mutex);
  auto it = deposited.find(ticket);
  if (it == deposited.end()) return Deposit{{}, 0, {}, {}};
  Deposit taken = std::move(it->second);
  reserved -= taken.reserved;
  deposited.erase(it);
  return taken;
}

// A group's steps as stored for its backward pass, in values of T, by the schedule that its
// share of the budget allows (checkpoint_schedule.h): per level of checkpoints, outermost
// first, those of one segment of the level above (the values at the start of all of its
// segments but the last); then the rows of one innermost segment and the values after it.
// Without levels, the rows of every step.
struct Layout {
  bool fits;
  std::vector<int64_t> lengths;  // per level, its segments' steps
  std::vector<int64_t> offset;   // where each level's checkpoints begin, then the rows
  int64_t values;                // in all
  // The group's share of the budget and the fewest bytes a schedule needs (for the error).
  int64_t share, least;
};

template <int W>
Layout layout_of(const Model& model, int64_t stored_bytes, int64_t groups) {
  const int64_t n_values = model.n_values * W, size = row_size(model) * W;
  const int64_t step_bytes = size * sizeof(T), checkpoint_bytes = n_values * sizeof(T);
  Layout layout;
  layout.share = stored_bytes / std::max<int64_t>(groups, 1);
  const auto schedule =
      dendrax_checkpoints::schedule(model.n_steps, step_bytes, checkpoint_bytes, layout.share);
  layout.fits = schedule.fits;
  layout.lengths = schedule.lengths;
  layout.least = dendrax_checkpoints::minimum_bytes(model.n_steps, step_bytes, checkpoint_bytes);
  int64_t at = 0, parent = model.n_steps;
  for (const int64_t k : layout.lengths) {
    layout.offset.push_back(at);
    at += ((parent + k - 1) / k - 1) * n_values;
    parent = k;
  }
  layout.offset.push_back(at);
  layout.values = at + (parent + 1) * size;
  return layout;
}

// Why a batch's gradient does not fit in its budget (the message of the call's error).
const char* too_small(const Model& model, const Layout& layout, int64_t stored_bytes,
                      int64_t groups, int lanes) {
  thread_local char message[640];
  const int64_t size = row_size(model) * lanes * static_cast<int64_t>(sizeof(T));
  const int64_t values = model.n_values * lanes * static_cast<int64_t>(sizeof(T));
  const double least = static_cast<double>(layout.least) * static_cast<double>(groups);
  std::snprintf(message, sizeof(message),
                "dendrax: Checkpointing(memory_bytes=%lld) is too small for this gradient: its "
                "%lld steps store %lld bytes a step (%lld a checkpoint) per group of %d "
                "simulation(s), and %lld group(s) share the budget (%lld bytes each); the "
                "fewest that any schedule stores take %lld bytes a group: give memory_bytes "
                ">= %.0f",
                static_cast<long long>(stored_bytes), static_cast<long long>(model.n_steps),
                static_cast<long long>(size), static_cast<long long>(values), lanes,
                static_cast<long long>(groups), static_cast<long long>(layout.share),
                static_cast<long long>(layout.least), least);
  return message;
}

// The cotangents of a group's interleaved operands (see Group), and the backward sweep's
// buffers, per node and lane.
template <int W>
struct Backward {
  explicit Backward(const Model& m)
      : coupling(m.n_nodes * W), diag_fixed(m.n_nodes * W),
        site_values(m.param_begin[kMechanisms] * W), factor(m.n_nodes * W),
        inverse(m.n_nodes * W), delta(m.n_nodes * W), lam_rhs(m.n_nodes * W),
        lam_current(m.n_nodes * W), lam_slope(m.n_nodes * W), ion_eval(kIonRows * m.n_nodes * W),
        next(m.n_values * W), lam(m.n_values * W) {}
  Buffer coupling, diag_fixed, site_values;  // the cotangents
  Buffer factor, inverse, delta, lam_rhs, lam_current, lam_slope, ion_eval, next;
  Buffer lam;  // the cotangents of the values at the step swept back to
};

// Cotangents through `assemble`'s clamps: `lam_rhs` holds those of the right-hand side
// after them; on return, those before them (0 at clamped nodes, whose rows they replaced).
// The commands', v's (into lam_v) and the couplings' (into b.coupling) are added.
template <int W>
void clamp_vjp(const Model& model, const Group<W>& group, const T* v, int64_t step, Work<W>& w,
               Backward<W>& b, T* lam_rhs, T* lam_v) {
  const int64_t n = model.n_nodes;
  const char* clamped = model.clamped.data();
  const T* coupling = group.coupling.data();
  T* lam_known = w.known_flow.data();  // its forward values are not needed
  known_changes(model, group, v, step, w);
  for (int64_t q = 0; q < n * W; ++q) {
    lam_known[q] = clamped[q / W] ? lam_rhs[q] : T(0);
    lam_rhs[q] = clamped[q / W] ? T(0) : lam_rhs[q];
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    for (int l = 0; l < W; ++l) {
      const int64_t iw = i * W + l, pw = p * W + l;
      if (clamped[p]) {
        lam_known[pw] += coupling[iw] * lam_rhs[iw];
        b.coupling[iw] += w.known[pw] * lam_rhs[iw];
      }
      if (p != i && clamped[i]) {
        lam_known[iw] += coupling[iw] * lam_rhs[pw];
        b.coupling[iw] += w.known[iw] * lam_rhs[pw];
      }
    }
  }
  for (int64_t k = 0; k < model.n_clamp_pairs; ++k) {
    const int64_t node = model.clamp_node[k];
    const int64_t at = model.clamp_row[k] * model.n_steps + step;
    for (int l = 0; l < W; ++l) {
      const int64_t q = node * W + l;
      group.lane[l].bar.commands[at] += lam_known[q] / kFactor;
      lam_v[q] -= lam_known[q] / kFactor;
      lam_known[q] = T(0);  // a node held by several clamps: the last one's command
    }
  }
}

// One backward step: b.lam holds the cotangents of the values after the step of `row`
// (`next_values`); on return, those of the values before it.
template <int W>
void backward_step(const Model& model, const Group<W>& group, const Row& row,
                   const T* next_values, int64_t step, Work<W>& w, Backward<W>& b) {
  const int64_t n = model.n_nodes, nw = n * W, sw = model.n_states * W;
  const T* v = row.values;
  const T* states = v + nw;
  const T* diag = row.diag;
  const T* params = group.site_values.data();
  const T* ion_next = next_values + nw + sw;
  T* ion_eval = b.ion_eval.data();  // the rows as the currents and the writers saw them
  std::copy(ion_next, ion_next + kIonRows * nw, ion_eval);
  for (int64_t r = 0; r < @N_WRITTEN@; ++r) {
    const T* start = states + sw + kWrittenRows[r] * nw;
    std::copy(start, start + nw, ion_eval + kWrittenRows[r] * nw);
  }
  // b.lam's v rows become those of v' (the updates add theirs in place), b.next gathers
  // the cotangents before the step (its v rows are set below, its state rows by the
  // updates, then added to).
  T* lam = b.lam.data();
  T* lam_ion = lam + nw + sw;
  T* next = b.next.data();
  const T t = step_time(model, step);
  update_vjps<W>(model, next_values, states, params, ion_eval, ion_next, lam + nw, w.scratch(),
                 lam, next + nw, b.site_values.data(), lam_ion, t + kDt);
  // lam_rhs = A^-1 lam_delta, with A's elimination kept from the forward solve; the
  // divisions first, all at once, out of the sequential sweeps, and delta: a node's lanes as
  // one vector (the compiler leaves a plain loop over these arrays scalar, as they might
  // overlap). The stored v and diagonal come from memory, asked for kAhead nodes early
  // (the hardware's prefetch alone left this loop waiting on them: 20 % longer).
  using V = LaneVector<W>;
  constexpr int64_t kAhead = 48;
  T* lam_rhs = b.lam_rhs.data();
  T* factor = b.factor.data();
  T* inverse = b.inverse.data();
  T* delta = b.delta.data();
  const T* coupling = group.solve_coupling();
  for (int64_t q = 0; q < nw; q += W) {
    __builtin_prefetch(diag + q + kAhead * W);
    __builtin_prefetch(v + q + kAhead * W);
    const V lam_q = lanes<W>(lam + q), inverse_q = T(1) / lanes<W>(diag + q);
    put(next + q, lam_q);
    put(lam_rhs + q, kFactor * lam_q);
    put(inverse + q, inverse_q);
    put(factor + q, lanes<W>(coupling + q) * inverse_q);
    put(delta + q, (lanes<W>(next_values + q) - lanes<W>(v + q)) * (T(1) / kFactor));
  }
  second_order_vjp<W>(model, delta, ion_next, lam_ion, lam_rhs);
  // As in the forward solve, the parent's value is carried in a register (a vector of the
  // lanes) where it is the previous node.
  V r{};
  if (n > 0) r = lanes<W>(lam_rhs + (n - 1) * W);
  for (int64_t i = n - 1; i >= 0; --i) {
    const int64_t p = model.parent[i];
    put(lam_rhs + i * W, r);
    if (p == i - 1) {
      r = lanes<W>(lam_rhs + p * W) + lanes<W>(factor + i * W) * r;
      continue;
    }
    if (p != i) put(lam_rhs + p * W, lanes<W>(lam_rhs + p * W) + lanes<W>(factor + i * W) * r);
    if (i > 0) r = lanes<W>(lam_rhs + (i - 1) * W);
  }
  // The coupling c_i is in A at (i, parent) and (parent, i) as -c_i, and the axial
  // current c_i (v_p - v_i) enters rhs_i and leaves rhs_p. Without clamps both are swept
  // back within the substitution (which waits on its chain of multiply-adds), each node's
  // once its own and its parent's lam_rhs are final.
  const T* axial = group.coupling.data();
  T* bar_coupling = b.coupling.data();
  auto matrix_vjp = [&](int64_t iw, int64_t pw) {
    bar_coupling[iw] += lam_rhs[iw] * delta[pw] + lam_rhs[pw] * delta[iw];
  };
  auto flow_vjp = [&](int64_t iw, int64_t pw) {
    const T lam_flow = lam_rhs[iw] - lam_rhs[pw];
    bar_coupling[iw] += lam_flow * (v[pw] - v[iw]);
    next[pw] += lam_flow * axial[iw];
    next[iw] -= lam_flow * axial[iw];
  };
  // The cotangents of node i's membrane current and slope from its final lam_rhs.
  T* lam_slope = b.lam_slope.data();
  T* lam_current = b.lam_current.data();
  T* bar_diag = b.diag_fixed.data();
  auto reach_currents = [&](int64_t i, const V& lam_i) {
    const V slope = -lam_i * lanes<W>(delta + i * W);
    put(lam_slope + i * W, slope);
    put(lam_current + i * W, -lam_i);
    put(bar_diag + i * W, lanes<W>(bar_diag + i * W) + slope);
  };
  const bool clamps = model.n_clamp_pairs > 0;
  V previous{};
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    V parent_value{};  // a root's is 0
    if (p == i - 1) {
      parent_value = previous;
    } else if (p != i) {
      parent_value = lanes<W>(lam_rhs + p * W);
    }
    const V lam_i =
        lanes<W>(lam_rhs + i * W) * lanes<W>(inverse + i * W) + lanes<W>(factor + i * W) * parent_value;
    put(lam_rhs + i * W, lam_i);
    previous = lam_i;
    if (clamps) continue;
    reach_currents(i, lam_i);
    if (p == i) continue;
    // matrix_vjp and flow_vjp of the node's lanes, as vectors.
    const V lam_p = lanes<W>(lam_rhs + p * W), lam_flow = lam_i - lam_p;
    const V matrix = lam_i * lanes<W>(delta + p * W) + lam_p * lanes<W>(delta + i * W);
    const V flow = lam_flow * (lanes<W>(v + p * W) - lanes<W>(v + i * W));
    const V across = lam_flow * lanes<W>(axial + i * W);
    put(bar_coupling + i * W, (lanes<W>(bar_coupling + i * W) + matrix) + flow);
    put(next + p * W, lanes<W>(next + p * W) + across);
    put(next + i * W, lanes<W>(next + i * W) - across);
  }
  if (clamps) {  // a coupling that a clamp decoupled is not in A
    for (int64_t i = 0; i < n; ++i) {
      const int64_t p = model.parent[i];
      if (p == i || model.clamped[i] || model.clamped[p]) continue;
      for (int l = 0; l < W; ++l) matrix_vjp(i * W + l, p * W + l);
    }
    clamp_vjp(model, group, v, step, w, b, lam_rhs, next);
    for (int64_t i = 0; i < n; ++i) reach_currents(i, lanes<W>(lam_rhs + i * W));
    for (int64_t i = 0; i < n; ++i) {
      const int64_t p = model.parent[i];
      if (p == i) continue;
      for (int l = 0; l < W; ++l) flow_vjp(i * W + l, p * W + l);
    }
  }
  for (int64_t k = 0; k < model.n_stim_pairs; ++k) {
    const int64_t at = model.stim_row[k] * model.n_steps + step;
    for (int l = 0; l < W; ++l) {
      group.lane[l].bar.stimulus[at] += lam_rhs[model.stim_node[k] * W + l];
    }
  }
  evaluation_vjps<W>(model, v, states, params, ion_eval, b.lam_current.data(),
                     b.lam_slope.data(), w.scratch(), next, next + nw, b.site_values.data(),
                     lam_ion, lam_ion + kIonRows * nw, t + kHalfDt);
  // b.next becomes b.lam, with the cotangents of the rows after the states (ions) carried
  // over.
  std::copy(lam_ion, lam + model.n_values * W, next + nw + sw);
  std::swap(b.lam, b.next);
}

// Cotangents through `evaluate_values` at time t from `values`: `lam` holds those of the
// evaluated values (cleared after, but for the concentrations it reads, which gain theirs);
// those of v and the states are added to b.lam.
template <int W>
void evaluation_vjp(const Model& model, const Group<W>& group, Work<W>& w, Backward<W>& b,
                    const T* values, T t, T* lam) {
  const int64_t nw = model.n_nodes * W, sw = model.n_states * W;
  T* evaluated = b.next.data();
  if (evaluated != values) std::copy(values, values + model.n_values * W, evaluated);
  evaluate_values(model, group, w, evaluated, t);
  std::fill(b.lam_current.begin(), b.lam_current.end(), T(0));
  std::fill(b.lam_slope.begin(), b.lam_slope.end(), T(0));
  T* lam_ion = lam + nw + sw;
  evaluation_vjps<W>(model, evaluated, evaluated + nw, group.site_values.data(),
                     evaluated + nw + sw, b.lam_current.data(), b.lam_slope.data(), w.scratch(),
                     b.lam.data(), b.lam.data() + nw, b.site_values.data(), lam_ion,
                     lam_ion + kIonRows * nw, t);
}

// The cotangents through receiving an event at mechanism j's site `site`, lane w, `lag` ms
// late, from the states `pre` before it: `lam_states` holds those of the states after it and
// gets those before it; the parameters' are added to `bar_params`; the lag's is returned.
template <int W>
T receive_vjp_at(const Model& model, int64_t j, int64_t site, int w, T lag, const T* pre,
                 const T* params, T* lam_states, T* bar_params) {
  const int64_t stride = model.site_count[j] * W, k = site * W + w;
  T* ls = lam_states + model.state_begin[j] * W;
  T* bp = bar_params + model.param_begin[j] * W;
  const T* p = params + model.param_begin[j] * W;
  (void)stride, (void)k, (void)ls, (void)bp, (void)p, (void)pre, (void)lag;
  switch (j) {
    @RECEIVE_VJP_CASES@
    default:
      break;
  }
  return T(0);
}

// The backward sweep through a run's events, step by step in reverse, from its log: the
// cotangents of the logged spike times (interpolated mode: a delivery's lag is its step's
// start minus the spike's time and delay) and of the deliveries.
template <int W>
struct EventSweep {
  EventSweep(const Model& m, const EventLog& l) : model(m), log(l) {}

  // Before the sweep, once the log is complete.
  void begin() {
    lam_spike.assign(log.spike_step.size(), T(0));
    delivery = static_cast<int64_t>(log.step.size());
    spike = static_cast<int64_t>(log.spike_step.size());
  }

  // Before backward step s (from the values `values` to `next_values`): the cotangents of its
  // spike times to v after the step (into b.lam) and, kept for `deliveries_after`, before it.
  // t = t0 + dt (thr - v0) / (v1 - v0) within the step.
  void spikes_before(const T* values, const T* next_values, int64_t s, Backward<W>& b) {
    before.clear();
    for (; spike > 0 && log.spike_step[spike - 1] == s; --spike) {
      const int64_t i = spike - 1;
      const T lam = lam_spike[i];
      if (lam == T(0)) continue;
      const int64_t d = log.spike_detector[i];
      const int64_t q = model.detector_node[d] * W + log.spike_lane[i];
      const T threshold = model.threshold[d], v0 = values[q], v1 = next_values[q];
      const T rise = v1 - v0, fraction = (threshold - v0) / rise;
      if (fraction < T(0) || fraction > T(1)) continue;  // clipped: a constant time
      const T scale = lam * kDt / (rise * rise);
      b.lam[q] += -scale * (threshold - v0);
      before.emplace_back(q, scale * (threshold - v1));
    }
  }

  // After backward step s: the cotangents of v before it from its spikes, then through the
  // deliveries of s, in reverse, which restore the states before them in `values`.
  void deliveries_after(const Group<W>& group, T* values, int64_t s, Backward<W>& b) {
    for (const auto& [q, lam] : before) b.lam[q] += lam;
    T* lam_states = b.lam.data() + model.n_nodes * W;
    T* states = values + model.n_nodes * W;
    for (; delivery > 0 && log.step[delivery - 1] == s; --delivery) {
      const int64_t e = delivery - 1, j = log.mechanism[e], site = log.site[e];
      const int w = static_cast<int>(log.lane[e]);
      const T* data = log.data.data() + e * kLogStride;
      const T lam_lag = receive_vjp_at<W>(model, j, site, w, data[0], data + 1,
                                          group.site_values.data(), lam_states,
                                          b.site_values.data());
      // The lag is t minus (spike + delay); an event time (kEventTime) is spike + delay.
      if (log.spike[e] >= 0) lam_spike[log.spike[e]] += kEventTime[j] ? lam_lag : -lam_lag;
      const int64_t stride = model.site_count[j] * W;
      T* at = states + model.state_begin[j] * W + site * W + w;
      for (int64_t r = 0; r < kStateRows[j]; ++r) at[r * stride] = data[1 + r];
    }
  }

  const Model& model;
  const EventLog& log;
  Buffer lam_spike;
  std::vector<std::pair<int64_t, T>> before;
  int64_t delivery = 0, spike = 0;  // the deliveries and spikes the sweep has not reached
};

// The cotangents of a group, its steps stored by `layout`: by the forward pass under
// `ticket` where it kept them, else stored here first (one more forward pass).
template <int W>
void adjoint(const Model& model, const Group<W>& group, int64_t stored_bytes, const Layout& layout,
             int64_t ticket) {
  const int64_t n = model.n_nodes, n_steps = model.n_steps;
  const int64_t n_values = model.n_values * W, columns = n_steps + 1;
  const int64_t size = row_size(model) * W;
  Work<W> w(model);
  Backward<W> b(model);
  // The recordings' cotangents of column s, whose values are `values`; at t = 0 after
  // settling, those of the ion values go through their evaluation (`recorded_values`).
  Buffer lam_settled(evaluated_records(model) && model.n_settle > 0 ? n_values : 0);
  auto add_recorded = [&](int64_t s, const T* values) {
    const bool settled = s == model.n_settle && !lam_settled.empty();
    const int64_t first_ion = model.n_nodes + model.n_states;
    for (int64_t r = 0; r < model.n_records; ++r) {
      const int64_t slot = model.record_slot[r];
      T* lam = settled && slot >= first_ion ? lam_settled.data() : b.lam.data();
      for (int l = 0; l < W; ++l) lam[slot * W + l] += group.lane[l].cotangent[r * columns + s];
    }
    if (!settled) return;
    evaluation_vjp(model, group, w, b, values, T(0), lam_settled.data());
    for (int64_t q = first_ion * W; q < n_values; ++q) {
      b.lam[q] += lam_settled[q];
      lam_settled[q] = T(0);
    }
  };
  auto finish = [&](Storage&& storage) {
    if (evaluated_records(model)) {
      initial_values(model, group, w, b.next.data());
      evaluation_vjp(model, group, w, b, b.next.data(), step_time(model, 0), b.lam.data());
    }
    const T* lam = b.lam.data();
    deinterleave<W>(lam, n, [&](int l) { return group.lane[l].bar.v0; });
    deinterleave<W>(lam + n * W, model.n_states, [&](int l) { return group.lane[l].bar.states0; });
    deinterleave<W>(lam + (n + model.n_states) * W, kIonRows * n,
                    [&](int l) { return group.lane[l].bar.ion_values; });
    deinterleave<W>(b.coupling.data(), n, [&](int l) { return group.lane[l].bar.coupling; });
    deinterleave<W>(b.diag_fixed.data(), n, [&](int l) { return group.lane[l].bar.diag_fixed; });
    deinterleave<W>(b.site_values.data(), model.param_begin[kMechanisms],
                    [&](int l) { return group.lane[l].bar.site_values; });
    keep_storage(std::move(storage), stored_bytes);
  };
  Deposit deposited = ticket ? withdraw(ticket) : Deposit{{}, 0, {}, {}};
  EventLog& log = deposited.events;
  EventSweep<W> events(model, log);
  // Backward step s with its events: the cotangents of its detected spike times first, those
  // of its deliveries last (which leave the states before them in `here`, as recorded).
  auto sweep_back = [&](T* here, int64_t s) {
    if (kEvents) events.spikes_before(here, here + size, s, b);
    backward_step(model, group, row_at<W>(model, here), here + size, s, w, b);
    if (kEvents) events.deliveries_after(group, here, s, b);
  };
  if (n_steps == 0) {
    add_recorded(0, nullptr);  // no steps (and no settling)
    finish(std::move(deposited.rows));
    return;
  }
  const std::vector<int64_t>& lengths = layout.lengths;
  const size_t levels = lengths.size();
  Storage storage;
  const bool forward_kept = deposited.lengths == lengths &&
                            static_cast<int64_t>(deposited.rows.size()) >= layout.values;
  if (forward_kept) {
    storage = std::move(deposited.rows);
  } else {
    keep_storage(std::move(deposited.rows), stored_bytes);
    storage = take_storage(layout.values);
  }
  T* const rows = storage.data() + layout.offset[levels];
  // The steps of [from, to) back from their rows (the innermost segment's, or every step's).
  auto sweep_rows = [&](int64_t from, int64_t to) {
    if (to == n_steps) add_recorded(n_steps, rows + (to - from) * size);
    for (int64_t s = to - 1; s >= from; --s) {
      T* here = rows + (s - from) * size;
      sweep_back(here, s);
      add_recorded(s, here);
    }
  };
  if (forward_kept && levels == 0) {  // every step stored by the forward pass
    events.begin();
    sweep_rows(0, n_steps);
    finish(std::move(storage));
    return;
  }
  // Steps [from, to) of a segment of `level` (0: the run) from the values at `from` in `work`:
  // the checkpoints of the levels below along the segment's tail (the start of every
  // segment but the last of each level, within the last of the level above), as the forward
  // pass keeps them for the run, and the rows of its last innermost segment.
  Buffer work(2 * size);  // the rows of the steps run without storing them
  auto pass = [&](size_t level, int64_t from, int64_t to) {
    Row row = row_at<W>(model, work.data()), next = row_at<W>(model, work.data() + size);
    int64_t s = from;
    for (size_t l = level; l < levels; ++l) {
      const int64_t k = lengths[l], m = (to - s + k - 1) / k;
      T* checkpoints = storage.data() + layout.offset[l];
      for (int64_t g = 0; g + 1 < m; ++g) {
        std::copy(row.values, row.values + n_values, checkpoints + g * n_values);
        for (const int64_t end = to - (m - 1 - g) * k; s < end; ++s) {
          advance(model, group, row, s, w, next.values);
          std::swap(row, next);
        }
      }
    }
    std::copy(row.values, row.values + n_values, rows);
    for (T* here = rows; s < to; ++s, here += size) {
      advance(model, group, row_at<W>(model, here), s, w, here + size);
    }
  };
  // The sweep back through steps [from, to), a segment of `level` whose `pass` has run: its
  // last segment of the level below first, then the others, each run again from its checkpoint.
  auto sweep = [&](auto& self, size_t level, int64_t from, int64_t to) -> void {
    if (level == levels) return sweep_rows(from, to);
    const int64_t k = lengths[level], m = (to - from + k - 1) / k;
    self(self, level + 1, std::max(from, to - k), to);
    const T* checkpoints = storage.data() + layout.offset[level];
    for (int64_t g = m - 2; g >= 0; --g) {
      const int64_t first = g == 0 ? from : to - (m - g) * k, last = to - (m - 1 - g) * k;
      std::copy(checkpoints + g * n_values, checkpoints + (g + 1) * n_values, work.begin());
      pass(level + 1, first, last);
      self(self, level + 1, first, last);
    }
  };
  if (!forward_kept) {  // the forward pass again, logging the run's events
    log = EventLog();
    initial_values(model, group, w, work.data());
    w.log = kEvents ? &log : nullptr;
    pass(0, 0, n_steps);
  }
  // Segments run again from their checkpoints take their events from the log.
  w.log = &log;
  w.replay = true;
  events.begin();
  sweep(sweep, 0, 0, n_steps);
  finish(std::move(storage));
}

// A group forward, the recordings of lane l into out[l]. What `layout` keeps of its steps is
// stored under the ticket returned where the budget has room (else 0: the backward pass
// stores them itself): every step and the values after the last; or the checkpoints along
// the run's tail and the rows of its last innermost segment, as `pass` in `adjoint` keeps
// those of a segment. The steps run on two rows that stay in the caches, as the forward
// kernel's.
template <int W>
int64_t forward(const Model& model, const Group<W>& group, T* const* out, const Layout& layout,
                int64_t stored_bytes) {
  const int64_t n_steps = model.n_steps, n_values = model.n_values * W;
  const int64_t columns = n_steps + 1, size = row_size(model) * W;
  const bool store = n_steps > 0 && reserve(layout.values, stored_bytes);
  Storage steps = store ? take_storage(layout.values) : Storage();
  Buffer work(2 * size);
  Row row = row_at<W>(model, work.data()), next = row_at<W>(model, work.data() + size);
  Work<W> w(model);
  EventLog log;
  if (kEvents && store) w.log = &log;
  initial_values(model, group, w, row.values);
  auto record = [&](const T* values, int64_t column) {
    for (int64_t r = 0; r < model.n_records; ++r) {
      for (int l = 0; l < W; ++l) out[l][r * columns + column] = values[model.record_slot[r] * W + l];
    }
  };
  record(row.values, 0);
  Buffer settled;
  // Steps [from, to), each one's row stored at `rows` + (step - from) rows where given.
  auto run = [&](int64_t from, int64_t to, T* rows) {
    for (int64_t s = from; s < to; ++s) {
      RowStream stream;
      if (rows) stream = row_stream<W>(model, row.values, size, n_values, rows + (s - from) * size);
      advance(model, group, row, s, w, next.values, stream);
      record(recorded_values(model, group, w, s, next.values, settled), s + 1);
      std::swap(row, next);
    }
  };
  if (!store) {
    run(0, n_steps, nullptr);
    return 0;
  }
  int64_t first = 0, parent = n_steps;
  for (size_t l = 0; l < layout.lengths.size(); ++l) {
    const int64_t k = layout.lengths[l], m = (parent + k - 1) / k;
    T* checkpoints = steps.data() + layout.offset[l];
    for (int64_t g = 0; g + 1 < m; ++g) {
      std::copy(row.values, row.values + n_values, checkpoints + g * n_values);
      const int64_t end = n_steps - (m - 1 - g) * k;
      run(first, end, nullptr);
      first = end;
    }
    parent = k;
  }
  T* rows = steps.data() + layout.offset.back();
  run(first, n_steps, rows);
  stream_copy(row.values, n_values, rows + (n_steps - first) * size);
#if defined(__SSE2__) && defined(__x86_64__)
  _mm_sfence();  // the streamed stores done before another thread takes the rows
#endif
  return deposit(std::move(steps), layout.values, layout.lengths, std::move(log));
}

// Cotangent storage for the lanes of a group past the batch: as many values per operand as
// one simulation's (`size`), zeroed.
Values<T*> scratch_cotangents(const Values<int64_t>& size, Buffer& memory) {
  int64_t total = 0;
#define DENDRAX_TOTAL(name) total += size.name;
  DENDRAX_VALUES(DENDRAX_TOTAL)
#undef DENDRAX_TOTAL
  memory.assign(total, T(0));
  Values<T*> out;
  T* at = memory.data();
#define DENDRAX_POINT(name) \
  out.name = at;            \
  at += size.name;
  DENDRAX_VALUES(DENDRAX_POINT)
#undef DENDRAX_POINT
  return out;
}

// The forward pass of a gradient for a call's batch, W simulations at a time.
template <int W>
const char* forward_batch(const DendraxCall* call) {
  const DendraxBuffer& out = call->results[0];
  const int64_t batch = call->results[1].count;
  Operands operands;
  if (const char* error = read_operands(*call, batch, operands)) return error;
  const Model model = model_of(operands, out.dims[out.rank - 2], out.dims[out.rank - 1]);
  const int64_t per_sim = model.n_records * (model.n_steps + 1);
  Index* tickets = static_cast<Index*>(call->results[1].data);
  const int64_t groups = (batch + W - 1) / W;
  const Layout layout = layout_of<W>(model, call->stored_bytes, groups);
  if (!layout.fits) return too_small(model, layout, call->stored_bytes, groups, W);
  make_room(groups * layout.values, call->stored_bytes);
  over_groups<W>(batch, call->threads, [&](int64_t first) {
    Buffer scratch;
    Lane in[W];
    T* result[W];
    group_lanes<W>(operands, first, static_cast<T*>(out.data), per_sim, scratch, in, result);
    const int64_t ticket = forward(model, Group<W>(model, in), result, layout, call->stored_bytes);
    for (int64_t b = first; b < std::min(batch, first + W); ++b) {
      tickets[b] = static_cast<Index>(ticket);
    }
  });
  return nullptr;
}

// The cotangents for a call's batch, W simulations at a time.
template <int W>
const char* adjoint_batch(const DendraxCall* call) {
  const DendraxBuffer& cotangent = call->args[kValueOperands + kIndexOperands];
  const DendraxBuffer& tickets = call->args[kValueOperands + kIndexOperands + 1];
  const int64_t batch = tickets.count;
  Operands operands;
  if (const char* error = read_operands(*call, batch, operands)) return error;
  const Model model =
      model_of(operands, cotangent.dims[cotangent.rank - 2], cotangent.dims[cotangent.rank - 1]);
  const int64_t per_sim = model.n_records * (model.n_steps + 1);
  for (int64_t k = 0; k < kValueOperands; ++k) {
    T* data = static_cast<T*>(call->results[k].data);
    std::fill(data, data + call->results[k].count, T(0));
  }
  const Index* ticket_of = static_cast<const Index*>(tickets.data);
  const int64_t groups = (batch + W - 1) / W;
  const Layout layout = layout_of<W>(model, call->stored_bytes, groups);
  if (!layout.fits) return too_small(model, layout, call->stored_bytes, groups, W);
  over_groups<W>(batch, call->threads, [&](int64_t first) {
    Buffer scratch, zeros;  // past the batch: the operands' cotangents, the recordings'
    const Values<T*> spare =
        first + W > batch ? scratch_cotangents(operands.size, scratch) : Values<T*>();
    Lane in[W];
    T* cotangents[W];
    group_lanes<W>(operands, first, static_cast<T*>(cotangent.data), per_sim, zeros, in,
                   cotangents);
    for (int l = 0; l < W; ++l) {
      in[l].cotangent = cotangents[l];
      in[l].bar = first + l < batch ? values_at<T*>(call->results, batch, first + l) : spare;
    }
    // The group's steps, if its forward pass ran it as one group (else recomputed).
    int64_t ticket = ticket_of[first];
    for (int64_t b = first + 1; b < std::min(batch, first + W); ++b) {
      if (ticket_of[b] != ticket) ticket = 0;
    }
    adjoint(model, Group<W>(model, in), call->stored_bytes, layout, ticket);
  });
  return nullptr;
}

}  // namespace

#if DENDRAX_PART != 1
// The forward pass of a gradient (call.h): the operands of dendrax/native/operands.py; two
// results, the recordings (rows x columns per simulation) and per simulation the ticket
// under which its group's steps are stored for `dendrax_adjoint`.
extern "C" const char* dendrax_forward(const DendraxCall* call) {
  if (call->n_results != 2 || call->results[0].rank < 2) return "recordings must be 2-d";
  const int64_t batch = call->results[1].count;
  return run_batch(call, batch, "dendrax_forward_lanes", forward_batch<1>);
}

// The cotangents (call.h): the operands of dendrax/native/operands.py, the recordings'
// cotangent and the tickets of `dendrax_forward`; one result per field of Values, in order.
extern "C" const char* dendrax_adjoint(const DendraxCall* call) {
  if (call->n_args != kValueOperands + kIndexOperands + 2) return "dendrax: adjoint operands";
  if (call->n_results != kValueOperands) return "dendrax: one cotangent per value operand";
  if (call->args[kValueOperands + kIndexOperands].rank < 2) return "cotangent must be 2-d";
  const int64_t batch = call->args[kValueOperands + kIndexOperands + 1].count;
  // Forward passes of the same batch took the same way, or stored their groups under other
  // tickets (then recomputed: `adjoint_batch`).
  return run_batch(call, batch, "dendrax_adjoint_lanes", adjoint_batch<1>);
}
#endif

#if DENDRAX_PART != 0
// Batches in groups of kLanes (`in_lane_groups`).
extern "C" const char* dendrax_forward_lanes(const DendraxCall* call) {
  return forward_batch<kLanes>(call);
}

extern "C" const char* dendrax_adjoint_lanes(const DendraxCall* call) {
  return adjoint_batch<kLanes>(call);
}
#endif
#endif  // DENDRAX_UNIT
