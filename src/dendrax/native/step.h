// dendrax native: one time step (NEURON's fixed-step order), shared by the forward kernel
// (kernel.cc) and the adjoint (adjoint.cc), for a group of W simulations run together.
//
// Filled in by dendrax/native/source.py (value and index types, solver factor, the
// operands' layout of operands.h, scalar_math.cc, the mechanism functions and the loops that
// apply them, from dendrax/native/loops.py) and pasted where a template says @STEP@, inside
// `namespace {`. Per step, as the pure-JAX path (dendrax/solve/stepping.py):
// reversal potentials from the concentrations, membrane currents and slopes at the present
// voltage (ion currents summed per node), stimuli, axial currents, clamps, the tree solve
// (Hines 1984) of A delta = rhs, v' = v + kFactor delta, then the state updates at v' (the
// mechanisms that write concentrations first, then the others with the new ones).
//
// Lanes: simulations advance W at a time, interleaved: value q of lane w is at [q * W + w],
// so that every loop over nodes or sites has W independent, contiguous lanes to vectorise
// (the tree solve included). W = 1 for a single simulation.

using T = @C_TYPE@;
constexpr int32_t kValueType = @VALUE_TYPE_ID@;
using Buffer = std::vector<T, dendrax_buffer::CacheLines<T>>;  // on whole cache lines (buffer.h)
using Storage = std::vector<T, dendrax_buffer::StoredSteps<T>>;  // the adjoint's stored steps
using Index = @INDEX_TYPE@;  // JAX's integer type: int64_t with jax_enable_x64, else int32_t
constexpr int32_t kIndexType = @INDEX_TYPE_ID@;
constexpr T kFactor = @FACTOR@;  // v += kFactor * delta (1: backward Euler, 2: Crank-Nicolson)
constexpr T kDt = @DT@, kHalfDt = @HALF_DT@;  // the time step (ms) and half of it
constexpr int64_t kMechanisms = @N_MECHANISMS@;
constexpr int64_t kIonRows = @N_ION_ROWS@;  // per-node ion rows (see IonRows in source.py)

@OPERANDS@

@SCALAR_MATH@

// Per mechanism: rows of site values (its site inputs and area factor), of states and of
// recorded current densities.
constexpr int64_t kParamRows[kMechanisms + 1] = {@PARAM_ROWS@};
constexpr int64_t kStateRows[kMechanisms + 1] = {@STATE_ROWS@};
constexpr int64_t kDensityRows[kMechanisms + 1] = {@DENSITY_ROWS@};
constexpr int64_t kScratchRows = @SCRATCH_ROWS@;  // per-site scratch rows besides v, a, b

// Spike events (dendrax/solve/events.py): whether the model has them, whether spike times are
// interpolated within the step, which mechanisms receive them, and the most states of one.
constexpr bool kEvents = @EVENTS@;
constexpr bool kInterpolated = @INTERPOLATED@;
constexpr int64_t kReceives[kMechanisms + 1] = {@RECEIVES@};
constexpr int64_t kMaxReceivedStates = @MAX_RECEIVED_STATES@;
// Per mechanism: whether its receive takes the event's time instead of its lag
// (Mechanism.event_time), and the state row of the time of the event a site sent itself
// (Mechanism.self_events; -1 for none), delivered with receive's time kSelfEvent.
constexpr int64_t kEventTime[kMechanisms + 1] = {@EVENT_TIME@};
constexpr int64_t kSelfEventRow[kMechanisms + 1] = {@SELF_EVENT_ROWS@};
constexpr T kSelfEvent = T(-1e30);  // (base.SELF_EVENT)
constexpr T kNoSpike = T(-1e30);          // a ring entry without a spike (events.NO_SPIKE)
constexpr T kSpikeLateness = T(1e-10);    // ms after the step's end (events.SPIKE_LATENESS)
constexpr int64_t kOffsets = 3;           // ring rows a connection reads (events.OFFSETS)

// Lanes per group of a batch: one vector register of T. A model's library is compiled in two
// parts, two shared libraries (dendrax/native/library.py): DENDRAX_PART 0 runs single
// simulations (W = 1) and holds the entry points, 1 runs batches in groups of kLanes and is
// compiled the first time a batch needs it (`DendraxCall.companion`).
#if defined(__AVX512F__)
constexpr int kLanes = 64 / sizeof(T);
#elif defined(__AVX__)
constexpr int kLanes = 32 / sizeof(T);
#else
constexpr int kLanes = 16 / sizeof(T);
#endif

// Whether a batch runs in groups of kLanes: only where it fills a group for every thread.
// A lane of a group costs about what a single simulation does on one core, so a smaller
// batch runs one simulation at a time, spread over the threads (a batch of 4 in one padded
// group of 8 took 7x a single run).
inline bool in_lane_groups(int64_t batch, int64_t threads) {
  return batch >= kLanes * std::max<int64_t>(threads, 1);
}

// A call's batch run by the library's lanes part (entry point `symbol`, compiled the first
// time it is asked for) where it fills lane groups, else one simulation at a time by
// `single`: also where the lanes part could not be built.
template <class Single>
const char* run_batch(const DendraxCall* call, int64_t batch, const char* symbol, Single single) {
  if (in_lane_groups(batch, call->threads)) {
    if (const DendraxEntry lanes = call->companion(call, symbol)) return lanes(call);
  }
  return single(call);
}

// The W lanes of one value as one vector (GCC's and Clang's vector extension): the tree
// solves carry a node's lanes from one node to the next in registers, which the compiler
// keeps as vectors only when told (as arrays of W it split them into scalars).
// (A typedef in a class: GCC ignores the attribute on an alias template.)
template <int W>
struct Lanes {
  typedef T Vector __attribute__((vector_size(sizeof(T) * W)));
};
template <>
struct Lanes<1> {  // a single simulation: a plain value (a vector of one runs slower)
  typedef T Vector;
};
template <int W>
using LaneVector = typename Lanes<W>::Vector;
static_assert(sizeof(LaneVector<kLanes>) == sizeof(T) * kLanes, "lanes as one vector");

template <int W>
inline LaneVector<W> lanes(const T* at) {
  LaneVector<W> x;
  std::memcpy(&x, at, sizeof(x));
  return x;
}

template <class V>
inline void put(T* at, const V& x) {
  std::memcpy(at, &x, sizeof(x));
}

// Mechanism functions, generated from the mechanisms' jaxprs.
@MECHANISM_FUNCTIONS@

// The index operands and the sizes of one simulation.
struct Model : Indices<const Index*> {
  int64_t n_nodes, n_states, n_values, n_steps, n_records, n_stim_pairs, n_clamp_pairs,
      n_sites, n_densities, n_settle;
  std::vector<char> clamped;  // per node: 1 where a voltage clamp holds it
  // Per mechanism: where its sites, site values, states and recorded densities begin, and
  // its sites' connections among the event sites (those of the receiving mechanisms).
  int64_t site_begin[kMechanisms + 1], param_begin[kMechanisms + 1],
      state_begin[kMechanisms + 1], density_begin[kMechanisms + 1], event_begin[kMechanisms + 1];
  // Events: detectors, sources (detectors, then trains), ring rows, train spikes, where the
  // detectors' spike rows begin among the values; the first simulation's event values (the
  // same for every simulation of a batch) and the start time of every step.
  int64_t n_detectors = 0, n_sources = 0, n_slots = 0, n_trains = 0, spike_begin = 0;
  const T* threshold = nullptr;
  const T* delay = nullptr;
  const T* train_time = nullptr;
  const T* step_start = nullptr;
};

// The model of one simulation of `operands`, whose recordings have `n_records` rows and
// `columns` columns. Its values side by side: v, the states, the ion rows and the recorded
// densities (a record slot indexes any of them).
Model model_of(const Operands& operands, int64_t n_records, int64_t columns) {
  Model model;
  static_cast<Indices<const Index*>&>(model) = operands.index;
  model.n_nodes = operands.count.parent;
  model.n_states = operands.size.states0;
  model.site_begin[0] = model.param_begin[0] = model.state_begin[0] = 0;
  model.density_begin[0] = model.event_begin[0] = 0;
  for (int64_t j = 0; j < kMechanisms; ++j) {
    const int64_t count = model.site_count[j];
    model.site_begin[j + 1] = model.site_begin[j] + count;
    model.param_begin[j + 1] = model.param_begin[j] + kParamRows[j] * count;
    model.state_begin[j + 1] = model.state_begin[j] + kStateRows[j] * count;
    model.density_begin[j + 1] = model.density_begin[j] + kDensityRows[j] * count;
    model.event_begin[j + 1] = model.event_begin[j] + kReceives[j] * count;
  }
  model.n_sites = model.site_begin[kMechanisms];
  model.n_densities = model.density_begin[kMechanisms];
  model.spike_begin = model.n_nodes + model.n_states + kIonRows * model.n_nodes + model.n_densities;
  if (kEvents) {
    const Values<const T*> first = operands.at(0);
    model.n_detectors = operands.count.detector_node;
    model.n_slots = model.event_shape[0];
    model.n_sources = model.event_shape[1];
    model.n_trains = operands.count.train_step;
    model.threshold = first.detector_threshold;
    model.delay = first.event_delay;
    model.train_time = first.train_time;
    model.step_start = first.step_start;
  }
  model.n_values = model.spike_begin + model.n_detectors;
  model.n_steps = columns - 1;
  model.n_records = n_records;
  model.n_stim_pairs = operands.count.stim_row;
  model.n_clamp_pairs = operands.count.clamp_row;
  model.n_settle = model.settle_steps[0];
  model.clamped.assign(model.n_nodes, 0);
  for (int64_t k = 0; k < model.n_clamp_pairs; ++k) model.clamped[model.clamp_node[k]] = 1;
  return model;
}

// The time (ms) at the start of `step`, the settling steps first (at negative times), as
// dendrax/solve/stepping.py's `step_times`; currents are evaluated at its middle, states
// updated to its end.
// With events, NEURON's own clock (t + dt/2 + dt/2 per step, from the operands).
T step_time(const Model& model, int64_t step) {
  return model.step_start ? model.step_start[step] : T(step - model.n_settle) * kDt;
}

// One simulation's operands and, in a gradient, its recordings' cotangent and the operands'
// cotangents (outputs).
struct Lane : Values<const T*> {
  const T* cotangent = nullptr;
  Values<T*> bar;
};

// `size` values of every lane, `lane_data(w)` lane w's, interleaved into `to`.
template <int W, class Data>
void interleave(T* to, int64_t size, Data lane_data) {
  for (int w = 0; w < W; ++w) {
    const T* from = lane_data(w);
    for (int64_t q = 0; q < size; ++q) to[q * W + w] = from[q];
  }
}

// The inverse of `interleave`: lane w's values into `lane_data(w)`.
template <int W, class Data>
void deinterleave(const T* from, int64_t size, Data lane_data) {
  for (int w = 0; w < W; ++w) {
    T* to = lane_data(w);
    for (int64_t q = 0; q < size; ++q) to[q] = from[q * W + w];
  }
}

// A group of W simulations: their operands, and those the steps read interleaved.
template <int W>
struct Group {
  Group(const Model& model, const Lane* lanes)
      : coupling(model.n_nodes * W), diag_fixed(model.n_nodes * W),
        site_values(model.param_begin[kMechanisms] * W),
        step_coupling(model.n_clamp_pairs ? model.n_nodes * W : 0) {
    std::copy(lanes, lanes + W, lane);
    interleave<W>(coupling.data(), model.n_nodes, [&](int w) { return lane[w].coupling; });
    interleave<W>(diag_fixed.data(), model.n_nodes, [&](int w) { return lane[w].diag_fixed; });
    interleave<W>(site_values.data(), model.param_begin[kMechanisms],
                  [&](int w) { return lane[w].site_values; });
    for (int64_t q = 0; q < static_cast<int64_t>(step_coupling.size()); ++q) {
      const int64_t i = q / W;
      const bool decoupled = model.clamped[i] || model.clamped[model.parent[i]];
      step_coupling[q] = decoupled ? T(0) : coupling[q];
    }
  }
  // The coupling of the tree solve: the axial coupling, 0 on a clamped node's edges.
  const T* solve_coupling() const {
    return step_coupling.empty() ? coupling.data() : step_coupling.data();
  }
  Lane lane[W];
  Buffer coupling, diag_fixed, site_values, step_coupling;
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

// What a step keeps besides the values: the tree solve's eliminated diagonal. The adjoint
// takes the step's voltage change from the next row's v, delta = (v' - v) / kFactor, within
// half an ulp of v' of the solve's: a value a node less to store and read back per step.
struct Row {
  T* values;
  T* diag;
};

// Values per lane of a row: the values at a step's start and the diagonal.
int64_t row_size(const Model& model) { return model.n_values + model.n_nodes; }

template <int W>
Row row_at(const Model& model, T* base) {
  return Row{base, base + model.n_values * W};
}

// At the start of a step: the reversal potentials of the ions with written concentrations,
// then the sites' currents and slopes at v and time t, summed per node (nA, µS), the ion
// currents and their slopes (mA/cm², S/cm²) summed into their rows of `ion`, and the
// recorded densities (mA/cm², per site) into `density`.
template <int W>
void evaluate(const Model& model, const T* v, const T* states, const T* params, T* ion,
              T* density, Scratch scratch, T* current, T* slope, T t) {
  const int64_t n = model.n_nodes;
  @EVALUATION@
}

// Crank-Nicolson: the ion currents moved to the middle of the step.
template <int W>
void second_order(const Model& model, const T* delta, T* ion) {
  const int64_t n = model.n_nodes;
  @SECOND_ORDER@
}

// `count` values from `from` to `to`, past the caches where the CPU can (the stored steps are
// read back only by the backward pass: a plain store would first read each line in). Every
// store bypasses the caches, those of the values before and after the 16-byte chunks too: a
// plain store to a line being written past the caches flushes it half written (rows of an
// odd number of values, the single compartment's five, took 40 % longer so). With AVX-512,
// whole cache lines go in one store each (GCC's builtin: the intrinsics' header takes 10x
// as long to parse): streamed during the step (RowStream), the benchmark tree's rows cost
// its batch's forward pass 0.7-0.8 ms a simulation so, against 1.0 ms in 16-byte chunks
// (1.2 ms either way when copied after the step).
void stream_copy(const T* from, int64_t count, T* to) {
#if defined(__SSE2__) && defined(__x86_64__)
  const char* source = reinterpret_cast<const char*>(from);
  char* target = reinterpret_cast<char*>(to);
  static_assert(sizeof(T) == 8 || sizeof(T) == 4, "double or float");
  auto stream_value = [&](int64_t q) {
    if constexpr (sizeof(T) == 8) {
      long long value;
      std::memcpy(&value, source + q, sizeof(value));
      _mm_stream_si64(reinterpret_cast<long long*>(target + q), value);
    } else {
      int value;
      std::memcpy(&value, source + q, sizeof(value));
      _mm_stream_si32(reinterpret_cast<int*>(target + q), value);
    }
  };
  auto stream_chunk = [&](int64_t q) {
    const __m128i chunk = _mm_loadu_si128(reinterpret_cast<const __m128i*>(source + q));
    _mm_stream_si128(reinterpret_cast<__m128i*>(target + q), chunk);
  };
  const int64_t bytes = count * static_cast<int64_t>(sizeof(T));
  int64_t q = 0;
  for (; q < bytes && reinterpret_cast<uintptr_t>(target + q) % 16 != 0; q += sizeof(T)) {
    stream_value(q);
  }
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
  for (; q + 64 <= bytes && reinterpret_cast<uintptr_t>(target + q) % 64 != 0; q += 16) {
    stream_chunk(q);
  }
  for (; q + 64 <= bytes; q += 64) {
    typedef double Line __attribute__((vector_size(64)));
    Line line;
    std::memcpy(&line, source + q, sizeof(line));
    __builtin_ia32_movntpd512(reinterpret_cast<double*>(target + q), line);
  }
#endif
  for (; q + 16 <= bytes; q += 16) stream_chunk(q);
  for (; q < bytes; q += sizeof(T)) stream_value(q);
#else
  std::copy(from, from + count, to);
#endif
}

// A step's row on its way to storage (the adjoint's forward pass keeps every step's row for
// the backward pass), `chunk` values at a time (`some`) from the loops that wait on their
// arithmetic, which then hides the stores' traffic to memory: the tree elimination's, node
// by node (the values at the step's start, `ready` until the diagonal is), and the state
// updates', site by site in lane groups; `rest` after them. Copied at once after the step,
// the rows took a batch's gradient 6 % longer; so, 4 %. None by default.
struct RowStream {
  const T* from = nullptr;
  T* to = nullptr;
  int64_t count = 0;  // values
  int64_t chunk = 0;  // values at a time
  int64_t ready = 0;  // values that may go: those before the diagonal, then all
  int64_t done = 0;
  void some() {
    if (done >= ready) return;
    const int64_t next = std::min(ready, done + chunk);
    stream_copy(from + done, next - done, to + done);
    done = next;
  }
  void rest() {
    stream_copy(from + done, count - done, to + done);
    done = count;
  }
};

// The stream of a row of `size` values (its first `values` before the diagonal) to `to`, in
// whole cache lines a call, enough for the row to be done within the loops that stream it.
// The sites of mechanisms that write concentrations are counted too, though their loops run
// flat and stream nothing (loops.py): what they leave goes in `rest`.
template <int W>
RowStream row_stream(const Model& model, const T* from, int64_t size, int64_t values, T* to) {
  int64_t calls = model.n_nodes;
  for (int64_t j = 0; j < kMechanisms && W > 1; ++j) {
    calls += kStateRows[j] ? model.site_count[j] : 0;
  }
  constexpr int64_t line = 64 / sizeof(T);
  const int64_t per_call = calls ? (size + calls - 1) / calls : size;
  return RowStream{from, to, size, (per_call + line - 1) / line * line, values, 0};
}

// The states after a step to the new voltage v and time t, into next_states: the mechanisms
// that write concentrations first, each refreshing its rows of `ion`, then the others.
template <int W>
void update_states(const Model& model, const T* v, const T* states, const T* params, T* ion,
                   Scratch scratch, T* next_states, T t, RowStream& stream) {
  const int64_t n = model.n_nodes;
  @UPDATES@
  stream.rest();
}

// A run's spike events, kept for its gradient: per delivery its step (counted from the
// first settling step), mechanism, site, lane, the detector spike it came from (an index
// into the spikes; -1 for a spike whose time is a constant) and, `kLogStride` values apart,
// its lag (ms) and the site's states before it; per detector spike whose time depends on v
// (interpolated mode) its step, detector and lane.
constexpr int64_t kLogStride = 1 + kMaxReceivedStates;
struct EventLog {
  std::vector<int64_t> step, mechanism, site, lane, spike;
  Buffer data;
  std::vector<int64_t> spike_step, spike_detector, spike_lane;
  bool empty() const { return step.empty() && spike_step.empty(); }
};

// The buffers of a step, per node and lane.
template <int W>
struct Work {
  explicit Work(const Model& m)
      : ring(kEvents ? m.n_slots * (m.n_sources + 1) * W : 0),
        ring_spike(kEvents && kInterpolated ? ring.size() : 0),
        site_v(m.n_sites * W), site_a(m.n_sites * W), site_b(m.n_sites * W),
        site_g(kScratchRows * m.n_sites * W), current(m.n_nodes * W), slope(m.n_nodes * W),
        injected(m.n_nodes * W), rhs(m.n_nodes * W), up(m.n_nodes * W), scaled_rhs(m.n_nodes * W),
        delta(m.n_nodes * W),
        flow(m.n_clamp_pairs ? m.n_nodes * W : 0),
        from_children(m.n_clamp_pairs ? m.n_nodes * W : 0),
        known(m.n_clamp_pairs ? m.n_nodes * W : 0),
        known_flow(m.n_clamp_pairs ? m.n_nodes * W : 0) {
    std::fill(ring.begin(), ring.end(), kNoSpike);
    std::fill(ring_spike.begin(), ring_spike.end(), int64_t(-1));
  }
  Scratch scratch() {
    return Scratch{site_v.data(), site_a.data(), site_b.data(), site_g.data(),
                   static_cast<int64_t>(site_v.size())};
  }
  // Events: the ring buffer of spike times, [(row * (n_sources + 1) + source) * W + lane],
  // and, where a log is kept in interpolated mode, the logged spike of each entry; the end of
  // the last delivery window (ms); where the deliveries and spikes are logged (`record`) or
  // replayed from (`replay`: the ring is not read).
  Buffer ring;
  std::vector<int64_t> ring_spike;
  T bound = kNoSpike;
  EventLog* log = nullptr;
  bool replay = false;
  Buffer site_v, site_a, site_b, site_g, current, slope, injected, rhs, up, scaled_rhs,
      delta, flow, from_children, known, known_flow;
};

// a mod b in [0, b), for a of either sign.
inline int64_t floor_mod(int64_t a, int64_t b) {
  const int64_t r = a % b;
  return r < 0 ? r + b : r;
}

// The states of mechanism j's site `site`, lane w, after an event that arrives `lag` ms late
// (its `receive`), in place.
template <int W>
void receive_at(const Model& model, int64_t j, int64_t site, int w, T lag, T* states,
                const T* params) {
  const int64_t stride = model.site_count[j] * W, k = site * W + w;
  T* s = states + model.state_begin[j] * W;
  const T* p = params + model.param_begin[j] * W;
  (void)stride, (void)k, (void)s, (void)p, (void)lag;
  switch (j) {
    @RECEIVE_CASES@
    default:
      break;
  }
}

// The spikes of the external trains in run step `index` (from 0 at t = 0) written to its
// ring row (whose older entries are too old to be due: they need no clearing).
template <int W>
void start_events(const Model& model, Work<W>& w, int64_t index) {
  const Index* end = model.train_step + model.n_trains;
  const int64_t row = floor_mod(index, model.n_slots);
  for (const Index* at = std::lower_bound(model.train_step, end, index); at != end && *at == index;
       ++at) {
    const int64_t k = at - model.train_step;
    const int64_t entry = (row * (model.n_sources + 1) + model.train_source[k]) * W;
    for (int l = 0; l < W; ++l) w.ring[entry + l] = model.train_time[k];
    if (!w.ring_spike.empty()) std::fill_n(w.ring_spike.begin() + entry, W, int64_t(-1));
  }
}

// The events due at the start of `step` (run step `index`, at time t) received into
// `states`, and this delivery window closed: a connection reads its source's ring rows its
// delay's whole steps back and the two before; an event is due once its time (spike plus
// delay) is past the last window's end and at most t + dt/2 (t when interpolated: then it
// arrives t minus its time late). A mechanism's own events (kSelfEventRow) are due by the same
// window. Where the log is replayed, its deliveries of `step` instead.
template <int W>
void deliver(const Model& model, const Group<W>& group, Work<W>& w, int64_t step, int64_t index,
             T t, T* states) {
  const T* params = group.site_values.data();
  if (w.replay) {
    const EventLog& log = *w.log;
    const int64_t size = static_cast<int64_t>(log.step.size());
    int64_t at = std::lower_bound(log.step.begin(), log.step.end(), step) - log.step.begin();
    for (; at < size && log.step[at] == step; ++at) {
      receive_at<W>(model, log.mechanism[at], log.site[at], static_cast<int>(log.lane[at]),
                    log.data[at * kLogStride], states, params);
    }
    return;
  }
  const T until = kInterpolated ? t : t + kHalfDt;
  const int64_t columns = model.n_sources + 1;
  for (int64_t j = 0; j < kMechanisms; ++j) {
    if (!kReceives[j]) continue;
    const int64_t count = model.site_count[j], stride = count * W;
    const T* s = states + model.state_begin[j] * W;
    for (int64_t site = 0; site < count; ++site) {
      const int64_t e = model.event_begin[j] + site;
      const int64_t source = model.event_source[e], delay_steps = model.event_delay_steps[e];
      const T delay = model.delay[e];
      for (int l = 0; l < W; ++l) {
        bool hit = false;
        T arrival = T(0);
        int64_t spike = -1;
        for (int64_t o = 0; o < kOffsets; ++o) {
          const int64_t row = floor_mod(index - delay_steps - o, model.n_slots);
          const int64_t entry = (row * columns + source) * W + l;
          const T due = w.ring[entry] + delay;
          if (due > w.bound && due <= until) {
            hit = true;
            arrival = due;
            spike = w.ring_spike.empty() ? -1 : w.ring_spike[entry];
          }
        }
        const T time = kEventTime[j] ? arrival : kInterpolated ? t - arrival : T(0);
        // Deliver one event (its lag, or its time), logged with the states before it.
        auto one = [&](T lag, int64_t from) {
          if (w.log) {
            EventLog& log = *w.log;
            log.step.push_back(step);
            log.mechanism.push_back(j);
            log.site.push_back(site);
            log.lane.push_back(l);
            log.spike.push_back(from);
            log.data.push_back(lag);
            for (int64_t r = 0; r < kMaxReceivedStates; ++r) {
              log.data.push_back(r < kStateRows[j] ? s[r * stride + site * W + l] : T(0));
            }
          }
          receive_at<W>(model, j, site, l, lag, states, params);
        };
        if (kSelfEventRow[j] < 0) {
          if (hit) one(time, spike);
          continue;
        }
        // The site's own event and its spike event in time order (its own first at a tie);
        // an own event that the spike event sends into this window is delivered after it
        // (as stepping._deliver).
        const T* pending = s + kSelfEventRow[j] * stride + site * W + l;
        const bool first = *pending > w.bound && *pending <= until && !(hit && arrival < *pending);
        if (first) one(kSelfEvent, -1);
        if (hit) one(time, spike);
        if (hit && *pending > w.bound && *pending <= until) one(kSelfEvent, -1);
      }
    }
  }
  w.bound = until;
}

// The spikes of `step` (run step `index`, from time t, v_old to v_new): a detector spikes
// where its voltage goes from at most its threshold to above it (not while settling), at the
// step's end plus kSpikeLateness, or where interpolated, at the crossing of the line from
// v_old to v_new. Written to the ring's row of the step, and as 1 (else 0) to `spiked`, the
// detectors' spike rows of the values after the step; logged where a log is recorded and
// the time depends on v.
template <int W>
void detect(const Model& model, Work<W>& w, int64_t step, int64_t index, T t, const T* v_old,
            const T* v_new, T* spiked) {
  const int64_t row = floor_mod(index, model.n_slots), columns = model.n_sources + 1;
  const bool logged = w.log && !w.replay && !w.ring_spike.empty();
  for (int64_t d = 0; d < model.n_detectors; ++d) {
    const int64_t node = model.detector_node[d];
    const T threshold = model.threshold[d];
    for (int l = 0; l < W; ++l) {
      const T before = v_old[node * W + l], after = v_new[node * W + l];
      const bool crossed = before <= threshold && after > threshold && index >= 0;
      T time;
      if (kInterpolated) {
        const T rise = crossed ? after - before : T(1);
        time = t + std::min(std::max((threshold - before) / rise, T(0)), T(1)) * kDt;
      } else {
        time = ((t + kHalfDt) + kHalfDt) + kSpikeLateness;
      }
      const int64_t entry = (row * columns + d) * W + l;
      w.ring[entry] = crossed ? time : kNoSpike;
      spiked[d * W + l] = crossed ? T(1) : T(0);
      if (w.ring_spike.empty()) continue;
      w.ring_spike[entry] = -1;
      if (crossed && logged) {
        w.ring_spike[entry] = static_cast<int64_t>(w.log->spike_step.size());
        w.log->spike_step.push_back(step);
        w.log->spike_detector.push_back(d);
        w.log->spike_lane.push_back(l);
      }
    }
  }
}

// The ion values of `values` (reversal potentials, ion currents, recorded densities)
// evaluated at time t from its v, states and concentrations, in place.
template <int W>
void evaluate_values(const Model& model, const Group<W>& group, Work<W>& w, T* values, T t) {
  const int64_t nw = model.n_nodes * W;
  T* ion = values + nw + model.n_states * W;
  std::fill(w.current.begin(), w.current.end(), T(0));
  std::fill(w.slope.begin(), w.slope.end(), T(0));
  evaluate<W>(model, values, values + nw, group.site_values.data(), ion, ion + kIonRows * nw,
              w.scratch(), w.current.data(), w.slope.data(), t);
}

// Whether recorded values hold evaluated ion values (ion rows or recorded densities).
bool evaluated_records(const Model& model) { return kIonRows > 0 || model.n_densities > 0; }

// The values at the start of a simulation: v0, the states and the ion rows, with the ion
// values evaluated at the first step's start (recorded at t = 0 where there is no settling).
template <int W>
void initial_values(const Model& model, const Group<W>& group, Work<W>& w, T* values) {
  const int64_t n = model.n_nodes;
  T* states = values + n * W;
  interleave<W>(values, n, [&](int l) { return group.lane[l].v0; });
  interleave<W>(states, model.n_states, [&](int l) { return group.lane[l].states0; });
  interleave<W>(states + model.n_states * W, kIonRows * n,
                [&](int l) { return group.lane[l].ion_values; });
  std::fill(values + model.spike_begin * W, values + model.n_values * W, T(0));
  if (evaluated_records(model)) evaluate_values(model, group, w, values, step_time(model, 0));
}

// What is recorded of the `values` after `step`: themselves, except at t = 0 after settling,
// where the ion values are evaluated anew at t = 0 (as the pure-JAX path records them), in a
// copy in `scratch` (the step's own stay in `values`: the next step and the adjoint read them).
template <int W>
const T* recorded_values(const Model& model, const Group<W>& group, Work<W>& w, int64_t step,
                         const T* values, Buffer& scratch) {
  if (step + 1 != model.n_settle || !evaluated_records(model)) return values;
  scratch.assign(values, values + model.n_values * W);
  evaluate_values(model, group, w, scratch.data(), T(0));
  return scratch.data();
}

// The known changes of the clamped nodes in `step`, (command - v) / kFactor, into w.known.
template <int W>
void known_changes(const Model& model, const Group<W>& group, const T* v, int64_t step,
                   Work<W>& w) {
  std::fill(w.known.begin(), w.known.end(), T(0));
  for (int64_t k = 0; k < model.n_clamp_pairs; ++k) {
    const int64_t node = model.clamp_node[k];
    const int64_t at = model.clamp_row[k] * model.n_steps + step;
    for (int l = 0; l < W; ++l) {
      w.known[node * W + l] = (group.lane[l].commands[at] - v[node * W + l]) / kFactor;
    }
  }
}

// The right-hand side (into w.rhs) and diagonal of the step's system: stimuli minus the
// membrane currents, the fixed diagonal plus the slopes; with clamps the axial currents
// too, and the clamps: a clamped node's change is known, (command - v) / kFactor; its
// column moves to the right-hand side of its neighbours and its row becomes delta = known.
// (Without clamps the axial currents join the right-hand sides in the tree solve's sweep.)
template <int W>
void assemble(const Model& model, const Group<W>& group, const T* v, int64_t step, Work<W>& w,
              T* diag) {
  const int64_t n = model.n_nodes;
  T* rhs = w.rhs.data();
  std::fill(w.injected.begin(), w.injected.end(), T(0));
  for (int64_t k = 0; k < model.n_stim_pairs; ++k) {
    const int64_t node = model.stim_node[k];
    const int64_t at = model.stim_row[k] * model.n_steps + step;
    for (int l = 0; l < W; ++l) w.injected[node * W + l] += group.lane[l].stimulus[at];
  }
  for (int64_t q = 0; q < n * W; ++q) {
    rhs[q] = w.injected[q] - w.current[q];
    diag[q] = group.diag_fixed[q] + w.slope[q];
  }
  if (model.n_clamp_pairs == 0) return;
  const char* clamped = model.clamped.data();
  const T* coupling = group.coupling.data();
  std::fill(w.from_children.begin(), w.from_children.end(), T(0));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    for (int l = 0; l < W; ++l) {
      w.flow[i * W + l] = coupling[i * W + l] * (v[p * W + l] - v[i * W + l]);
    }
    if (p == i) continue;
    for (int l = 0; l < W; ++l) w.from_children[p * W + l] += w.flow[i * W + l];
  }
  for (int64_t q = 0; q < n * W; ++q) rhs[q] = rhs[q] + (w.flow[q] - w.from_children[q]);
  known_changes(model, group, v, step, w);
  std::fill(w.known_flow.begin(), w.known_flow.end(), T(0));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    for (int l = 0; l < W; ++l) {
      const T c = coupling[i * W + l];
      rhs[i * W + l] = rhs[i * W + l] + (clamped[p] ? c * w.known[p * W + l] : T(0));
      if (p != i) w.known_flow[p * W + l] += clamped[i] ? c * w.known[i * W + l] : T(0);
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int l = 0; l < W; ++l) {
      const int64_t q = i * W + l;
      rhs[q] = rhs[q] + w.known_flow[q];
      if (clamped[i]) {
        diag[q] = T(1);
        rhs[q] = w.known[q];
      }
    }
  }
}

// The tree solve A delta = rhs: Hines elimination from the leaves to the roots (parent[i]
// <= i), keeping per node its eliminated diagonal (in `diag`, for the adjoint), the
// multiplier of its parent's change and its own scaled right-hand side, so that the
// substitution from the roots is one multiply-add per node: delta[i] = (rhs[i] + c[i]
// delta[p]) / diag[i] = scaled_rhs[i] + up[i] delta[p]. Most nodes follow their parent (p =
// i - 1); then the parent's values pass on in registers instead of through memory, which
// shortens the chain of dependencies. Without clamps, the axial current from each node's
// parent, c[i] (v[p] - v[i]), joins the right-hand sides here (into i, out of p): the sweep
// waits on its divisions, so this work comes almost free.
template <int W>
void solve(const Model& model, const Group<W>& group, const T* v, Work<W>& w, T* diag,
           T* delta, RowStream& stream) {
  const int64_t n = model.n_nodes;
  if (n == 0) return;
  using V = LaneVector<W>;
  const bool sweep_flows = model.n_clamp_pairs == 0;
  const T* coupling = group.solve_coupling();
  T* rhs = w.rhs.data();
  T* up = w.up.data();
  T* scaled_rhs = w.scaled_rhs.data();
  V d = lanes<W>(diag + (n - 1) * W), r = lanes<W>(rhs + (n - 1) * W);
  for (int64_t i = n - 1; i >= 0; --i) {
    stream.some();
    const int64_t p = model.parent[i];
    const V c = lanes<W>(coupling + i * W);
    const V flow_in = sweep_flows ? c * (lanes<W>(v + p * W) - lanes<W>(v + i * W)) : V{};
    r = r + flow_in;
    const V factor = c / d;
    put(diag + i * W, d);
    put(up + i * W, factor);
    put(scaled_rhs + i * W, r / d);
    if (p == i - 1) {
      d = lanes<W>(diag + p * W) - factor * c;
      r = (lanes<W>(rhs + p * W) - flow_in) + factor * r;
      continue;
    }
    if (p != i) {
      put(diag + p * W, lanes<W>(diag + p * W) - factor * c);
      put(rhs + p * W, (lanes<W>(rhs + p * W) - flow_in) + factor * r);
    }
    if (i > 0) {
      d = lanes<W>(diag + (i - 1) * W);
      r = lanes<W>(rhs + (i - 1) * W);
    }
  }
  stream.ready = stream.count;
  V previous{};
  for (int64_t i = 0; i < n; ++i) {
    const int64_t p = model.parent[i];
    V parent_delta{};  // a root's parent change is 0
    if (p == i - 1) {
      parent_delta = previous;
    } else if (p != i) {
      parent_delta = lanes<W>(delta + p * W);
    }
    previous = lanes<W>(scaled_rhs + i * W) + lanes<W>(up + i * W) * parent_delta;
    put(delta + i * W, previous);
  }
}

// One step from row.values to `next_values`, filling the rest of the row. The ion rows are
// worked on in `next_values`: there, after the step, are the reversal potentials and ion
// currents of the step and the concentrations after it. With events, those due are first
// received into row.values's states (which the adjoint stores), and the step's spikes are
// detected last. The row goes out by `stream` (RowStream) as the tree is solved and the
// states update.
template <int W>
void advance(const Model& model, const Group<W>& group, const Row& row, int64_t step,
             Work<W>& w, T* next_values, RowStream stream = {}) {
  const int64_t nw = model.n_nodes * W, sw = model.n_states * W;
  const T* v = row.values;
  const T* states = v + nw;
  T* ion = next_values + nw + sw;
  std::copy(states + sw, states + sw + kIonRows * nw, ion);
  std::fill(w.current.begin(), w.current.end(), T(0));
  std::fill(w.slope.begin(), w.slope.end(), T(0));
  const T* params = group.site_values.data();
  const T t = step_time(model, step);
  const int64_t index = step - model.n_settle;  // the run's step, from 0 at t = 0
  if (kEvents) {
    if (!w.replay) start_events(model, w, index);
    deliver(model, group, w, step, index, t, row.values + nw);
  }
  evaluate<W>(model, v, states, params, ion, ion + kIonRows * nw, w.scratch(), w.current.data(),
              w.slope.data(), t + kHalfDt);
  assemble(model, group, v, step, w, row.diag);
  T* delta = w.delta.data();
  solve(model, group, v, w, row.diag, delta, stream);
  for (int64_t q = 0; q < nw; ++q) next_values[q] = v[q] + kFactor * delta[q];
  second_order<W>(model, delta, ion);
  update_states<W>(model, next_values, states, params, ion, w.scratch(), next_values + nw,
                   t + kDt, stream);
  if (kEvents) {
    detect(model, w, step, index, t, v, next_values, next_values + model.spike_begin * W);
  }
}

// The lanes of the group from simulation `first` on; those past the batch repeat its last
// simulation. Lane l's recordings go to `results` (per_sim values a simulation), or past the
// batch to `scratch`.
template <int W>
void group_lanes(const Operands& operands, int64_t first, T* results, int64_t per_sim,
                 Buffer& scratch, Lane* in, T** out) {
  for (int l = 0; l < W; ++l) {
    const int64_t b = first + l;
    static_cast<Values<const T*>&>(in[l]) = operands.at(std::min(b, operands.batch - 1));
    if (b < operands.batch) {
      out[l] = results + b * per_sim;
    } else {
      scratch.resize(per_sim);
      out[l] = scratch.data();
    }
  }
}

// run(first) for the groups of W simulations of a batch, from `first` on (the last group
// padded), spread over up to `threads` threads.
template <int W, class Run>
void over_groups(int64_t batch, int64_t threads, Run run) {
  const int64_t groups = (batch + W - 1) / W;
  auto some = [&](int64_t worker, int64_t workers) {
    for (int64_t g = groups * worker / workers; g < groups * (worker + 1) / workers; ++g) {
      run(g * W);
    }
  };
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(threads, groups));
  std::vector<std::thread> pool;
  for (int64_t w = 1; w < workers; ++w) pool.emplace_back(some, w, workers);
  some(0, workers);
  for (auto& thread : pool) thread.join();
}
