// dendrax native time stepping: a whole simulation (NEURON's fixed-step order) in one call.
//
// This file is a template: dendrax/native/source.py fills in the @NAMES@ (value type, solver
// factor, mechanism functions generated from their jaxprs, and the loops that apply them)
// and compiles one shared library per model configuration. Per step, as the pure-JAX path
// (dendrax/solve/stepping.py): membrane currents and slopes at the present voltage, stimuli,
// axial currents, the tree solve (Hines 1984), the new voltage, then the state updates at
// the new voltage; recordings after every step. Ion values that change during a run are
// kept per node in rows (see IonRows in source.py): reversal potentials from concentrations
// at the start of a step, ion currents summed over their channels (moved to the middle of
// the step for Crank-Nicolson), and concentrations written by the mechanisms that update
// first, before the others (dendrax/mechanisms/membrane.py's order).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
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
// Per mechanism: rows of site values (its site inputs and area factor) and of states.
constexpr int64_t kParamRows[kMechanisms + 1] = {@PARAM_ROWS@};
constexpr int64_t kStateRows[kMechanisms + 1] = {@STATE_ROWS@};
constexpr int64_t kDensityRows[kMechanisms + 1] = {@DENSITY_ROWS@};  // recorded densities
constexpr int64_t kIonRows = @N_ION_ROWS@;  // per-node ion rows
constexpr int64_t kMaxIonInputs = @MAX_ION_INPUTS@;  // ion rows one mechanism reads, at most
constexpr int64_t kMaxFluxes = @MAX_FLUXES@;  // ion densities and slopes one mechanism sums

@OPERANDS@

@SCALAR_MATH@

// Mechanism functions, generated from the mechanisms' jaxprs.
@MECHANISM_FUNCTIONS@

// The index operands and the sizes of a simulation.
struct Model : Indices<const Index*> {
  int64_t n_nodes, n_steps, n_records, n_stim_pairs, n_clamp_pairs;
};

using Inputs = Values<const T*>;

// Simulations advance W at a time, interleaved: value q of lane w is at [q * W + w], so that
// every loop over nodes or sites has W independent, contiguous lanes to vectorise (the tree
// solve included). W = 1 for a single simulation. `in` and `out` hold one entry per lane.
template <int W>
void simulate_lanes(const Model& model, const Inputs* in, int64_t n_state_values,
                    int64_t n_site_values, T* const* out) {
  const int64_t n = model.n_nodes;
  const int64_t columns = model.n_steps + 1;
  int64_t max_sites = 1;
  int64_t site_begin[kMechanisms + 1], param_begin[kMechanisms + 1],
      state_begin[kMechanisms + 1], density_begin[kMechanisms + 1];
  site_begin[0] = param_begin[0] = state_begin[0] = density_begin[0] = 0;
  for (int64_t j = 0; j < kMechanisms; ++j) {
    const int64_t count = model.site_count[j];
    max_sites = std::max<int64_t>(max_sites, count);
    site_begin[j + 1] = site_begin[j] + count;
    param_begin[j + 1] = param_begin[j] + kParamRows[j] * count;
    state_begin[j + 1] = state_begin[j] + kStateRows[j] * count;
    density_begin[j + 1] = density_begin[j] + kDensityRows[j] * count;
  }
  auto interleave = [](std::vector<T>& to, int64_t offset, int64_t size, auto lane_data) {
    for (int64_t q = 0; q < size; ++q) {
      for (int w = 0; w < W; ++w) to[(offset + q) * W + w] = lane_data(w)[q];
    }
  };
  // v, the states, the ion rows and the recorded densities side by side, so that a record
  // slot indexes any of them.
  const int64_t n_densities = density_begin[kMechanisms];
  std::vector<T> values((n + n_state_values + kIonRows * n + n_densities) * W), coupling(n * W),
      diag_fixed(n * W), site_values(n_site_values * W);
  interleave(values, 0, n, [&](int w) { return in[w].v0; });
  interleave(values, n, n_state_values, [&](int w) { return in[w].states0; });
  interleave(values, n + n_state_values, kIonRows * n, [&](int w) { return in[w].ion_values; });
  interleave(coupling, 0, n, [&](int w) { return in[w].coupling; });
  interleave(diag_fixed, 0, n, [&](int w) { return in[w].diag_fixed; });
  interleave(site_values, 0, n_site_values, [&](int w) { return in[w].site_values; });
  T* v = values.data();
  T* states = v + n * W;
  T* ion = states + n_state_values * W;
  T* density = ion + kIonRows * n * W;
  std::vector<T> current(n * W), slope(n * W), injected(n * W), rhs(n * W), diag(n * W),
      delta(n * W), up(n * W), scaled_rhs(n * W);
  // Voltage clamps: a clamped node's change is known; its column moves to the right-hand
  // side of its neighbours and it is decoupled (as dendrax/solve/stepping.py does).
  const bool clamps = model.n_clamp_pairs > 0;
  std::vector<char> clamped(clamps ? n : 0, 0);
  for (int64_t k = 0; k < model.n_clamp_pairs; ++k) clamped[model.clamp_node[k]] = 1;
  // Without clamps the axial currents join the right-hand sides in the tree solve's sweep.
  std::vector<T> known(clamps ? n * W : 0), known_flow(clamps ? n * W : 0),
      step_coupling(clamps ? n * W : 0), flow(clamps ? n * W : 0),
      from_children(clamps ? n * W : 0);
  const T* solve_coupling = clamps ? step_coupling.data() : coupling.data();
  // site_vp: the voltage at each junction site's peer node.
  std::vector<T> site_v(max_sites * W), site_vp(max_sites * W), site_current(max_sites * W),
      site_slope(max_sites * W),
      site_ion(kMaxIonInputs * max_sites * W), site_flux(kMaxFluxes * max_sites * W);
  auto record = [&](int64_t column) {
    for (int64_t r = 0; r < model.n_records; ++r) {
      for (int w = 0; w < W; ++w) {
        out[w][r * columns + column] = values[model.record_slot[r] * W + w];
      }
    }
  };
  // The first step's evaluation of the membrane currents gives the ion values of the initial
  // state, recorded at t = 0 (one copy of the mechanisms' code instead of two: compile time).
  for (int64_t step = 0; step < std::max<int64_t>(model.n_steps, 1); ++step) {
    std::fill(current.begin(), current.end(), T(0));
    std::fill(slope.begin(), slope.end(), T(0));
    {
      @EVALUATION@
    }
    if (step == 0) {
      record(0);
      if (model.n_steps == 0) break;
    }
    std::fill(injected.begin(), injected.end(), T(0));
    for (int64_t k = 0; k < model.n_stim_pairs; ++k) {
      const int64_t at = model.stim_row[k] * model.n_steps + step;
      for (int w = 0; w < W; ++w) injected[model.stim_node[k] * W + w] += in[w].stimulus[at];
    }
    for (int64_t q = 0; q < n * W; ++q) {
      rhs[q] = injected[q] - current[q];
      diag[q] = diag_fixed[q] + slope[q];
    }
    if (clamps) {  // the axial currents, then the clamps (without clamps: in the sweep)
      std::fill(from_children.begin(), from_children.end(), T(0));
      for (int64_t i = 0; i < n; ++i) {
        const int64_t p = model.parent[i];
        for (int w = 0; w < W; ++w) {
          flow[i * W + w] = coupling[i * W + w] * (v[p * W + w] - v[i * W + w]);
        }
      }
      for (int64_t i = 0; i < n; ++i) {
        const int64_t p = model.parent[i];
        if (p == i) continue;
        for (int w = 0; w < W; ++w) from_children[p * W + w] += flow[i * W + w];
      }
      for (int64_t q = 0; q < n * W; ++q) rhs[q] = rhs[q] + (flow[q] - from_children[q]);
      std::fill(known.begin(), known.end(), T(0));
      for (int64_t k = 0; k < model.n_clamp_pairs; ++k) {
        const int64_t node = model.clamp_node[k];
        const int64_t at = model.clamp_row[k] * model.n_steps + step;
        for (int w = 0; w < W; ++w) {
          known[node * W + w] = (in[w].commands[at] - v[node * W + w]) / kFactor;
        }
      }
      std::fill(known_flow.begin(), known_flow.end(), T(0));
      for (int64_t i = 0; i < n; ++i) {
        const int64_t p = model.parent[i];
        for (int w = 0; w < W; ++w) {
          const int64_t q = i * W + w;
          rhs[q] = rhs[q] + (clamped[p] ? coupling[q] * known[p * W + w] : T(0));
          step_coupling[q] = (clamped[i] || clamped[p]) ? T(0) : coupling[q];
        }
        if (p == i) continue;
        for (int w = 0; w < W; ++w) {
          known_flow[p * W + w] += clamped[i] ? coupling[i * W + w] * known[i * W + w] : T(0);
        }
      }
      for (int64_t i = 0; i < n; ++i) {
        for (int w = 0; w < W; ++w) {
          const int64_t q = i * W + w;
          rhs[q] = rhs[q] + known_flow[q];
          if (clamped[i]) {
            diag[q] = T(1);
            rhs[q] = known[q];
          }
        }
      }
    }
    // Hines elimination from the leaves to the roots (parent[i] <= i), keeping per node the
    // multiplier of its parent's change and its own scaled right-hand side, so that the
    // substitution from the roots is one multiply-add per node:
    // delta[i] = (rhs[i] + c[i] delta[p]) / diag[i] = scaled_rhs[i] + up[i] delta[p].
    // Most nodes follow their parent (p = i - 1); then the parent's values pass on in
    // registers instead of through memory, which shortens the chain of dependencies.
    // Without clamps, the axial current from each node's parent, c[i] (v[p] - v[i]), joins
    // the right-hand sides here (into i, out of p): the sweep waits on its divisions, so
    // this work comes almost free.
    {
      const bool sweep_flows = !clamps;
      T d[W], r[W];
      for (int w = 0; w < W; ++w) {
        d[w] = diag[(n - 1) * W + w];
        r[w] = rhs[(n - 1) * W + w];
      }
      for (int64_t i = n - 1; i >= 0; --i) {
        const int64_t p = model.parent[i];
        T factor[W];
        T flow_in[W];
        for (int w = 0; w < W; ++w) {
          const T c = solve_coupling[i * W + w];
          flow_in[w] = sweep_flows ? c * (v[p * W + w] - v[i * W + w]) : T(0);
          r[w] = r[w] + flow_in[w];
          factor[w] = c / d[w];
          up[i * W + w] = factor[w];
          scaled_rhs[i * W + w] = r[w] / d[w];
        }
        if (p == i - 1) {
          for (int w = 0; w < W; ++w) {
            const T c = solve_coupling[i * W + w];
            d[w] = diag[p * W + w] - factor[w] * c;
            r[w] = (rhs[p * W + w] - flow_in[w]) + factor[w] * r[w];
          }
        } else {
          for (int w = 0; w < W; ++w) {
            const T c = solve_coupling[i * W + w];
            diag[p * W + w] -= factor[w] * c;
            rhs[p * W + w] = (rhs[p * W + w] - flow_in[w]) + factor[w] * r[w];
          }
          if (i > 0) {
            for (int w = 0; w < W; ++w) {
              d[w] = diag[(i - 1) * W + w];
              r[w] = rhs[(i - 1) * W + w];
            }
          }
        }
      }
      T previous[W] = {};
      for (int64_t i = 0; i < n; ++i) {
        const int64_t p = model.parent[i];
        for (int w = 0; w < W; ++w) {
          const T parent_delta = p == i - 1 ? previous[w] : (p == i ? T(0) : delta[p * W + w]);
          previous[w] = scaled_rhs[i * W + w] + up[i * W + w] * parent_delta;
          delta[i * W + w] = previous[w];
        }
      }
    }
    for (int64_t q = 0; q < n * W; ++q) v[q] = v[q] + kFactor * delta[q];
    {
      @SECOND_ORDER@
    }
    {
      @UPDATE_LOOPS@
    }
    record(step + 1);
  }
}

// Lanes per group of a batch: one vector register of T.
#if defined(__AVX512F__)
constexpr int kLanes = 64 / sizeof(T);
#elif defined(__AVX__)
constexpr int kLanes = 32 / sizeof(T);
#else
constexpr int kLanes = 16 / sizeof(T);
#endif

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
  Model model;
  static_cast<Indices<const Index*>&>(model) = operands.index;
  model.n_nodes = operands.count.parent;
  model.n_steps = columns - 1;
  model.n_records = n_records;
  model.n_stim_pairs = operands.count.stim_row;
  model.n_clamp_pairs = operands.count.clamp_row;
  const int64_t n_states = operands.size.states0;
  const int64_t n_site_values = operands.size.site_values;
  T* const results = static_cast<T*>(out.data);
  // A batch runs in groups of kLanes simulations; the last group repeats its last
  // simulation in the lanes left over and writes their recordings to scratch.
  const int64_t groups = batch == 1 ? 1 : (batch + kLanes - 1) / kLanes;
  auto run = [&](int64_t first, int64_t last) {
    std::vector<T> scratch;
    for (int64_t g = first; g < last; ++g) {
      if (batch == 1) {
        const Inputs in = operands.at(0);
        T* result = results;
        simulate_lanes<1>(model, &in, n_states, n_site_values, &result);
        continue;
      }
      Inputs in[kLanes];
      T* result[kLanes];
      for (int w = 0; w < kLanes; ++w) {
        const int64_t b = g * kLanes + w;
        in[w] = operands.at(std::min(b, batch - 1));
        if (b < batch) {
          result[w] = results + b * per_sim;
        } else {
          scratch.resize(per_sim);
          result[w] = scratch.data();
        }
      }
      simulate_lanes<kLanes>(model, in, n_states, n_site_values, result);
    }
  };
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(call->threads, groups));
  if (workers == 1) {
    run(0, groups);
    return nullptr;
  }
  std::vector<std::thread> pool;
  for (int64_t w = 0; w < workers; ++w) {
    pool.emplace_back(run, groups * w / workers, groups * (w + 1) / workers);
  }
  for (auto& thread : pool) thread.join();
  return nullptr;
}
