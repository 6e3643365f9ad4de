// The operands of a native call, in the order of dendrax/native/operands.py (whose field
// lists fill in @VALUE_FIELDS@ and @INDEX_FIELDS@), read by every entry point with
// `read_operands`. Needs T, Index, kValueType, kIndexType, kMechanisms, kIonRows and call.h.

#define DENDRAX_VALUES(X) @VALUE_FIELDS@
#define DENDRAX_INDICES(X) @INDEX_FIELDS@
#define DENDRAX_COUNT(name) +1
constexpr int64_t kValueOperands = 0 DENDRAX_VALUES(DENDRAX_COUNT);
constexpr int64_t kIndexOperands = 0 DENDRAX_INDICES(DENDRAX_COUNT);
#undef DENDRAX_COUNT

// One simulation's floating-point operands (P = const T*), their cotangents (P = T*) or
// their sizes per simulation (P = int64_t).
template <class P>
struct Values {
#define DENDRAX_DECLARE(name) P name{};
  DENDRAX_VALUES(DENDRAX_DECLARE)
#undef DENDRAX_DECLARE
};

// The integer operands (P = const Index*: the first simulation's, which a batch shares) or
// their sizes per simulation (P = int64_t).
template <class P>
struct Indices {
#define DENDRAX_DECLARE(name) P name{};
  DENDRAX_INDICES(DENDRAX_DECLARE)
#undef DENDRAX_DECLARE
};

// Simulation b's part of `buffers`, one per field of Values, each `batch` simulations long
// (under vmap every operand carries the same leading batch dimensions: broadcast_all).
template <class P>
Values<P> values_at(const DendraxBuffer* buffers, int64_t batch, int64_t b) {
  Values<P> out;
  int64_t k = 0;
#define DENDRAX_AT(name) \
  out.name = static_cast<P>(buffers[k].data) + b * (buffers[k].count / batch); \
  ++k;
  DENDRAX_VALUES(DENDRAX_AT)
#undef DENDRAX_AT
  return out;
}

// A call's operands for a batch of `batch` simulations.
struct Operands {
  int64_t batch = 0;
  const DendraxBuffer* values = nullptr;  // kValueOperands buffers
  Values<int64_t> size;                   // elements per simulation
  Indices<const Index*> index;
  Indices<int64_t> count;  // elements per simulation

  Values<const T*> at(int64_t b) const { return values_at<const T*>(values, batch, b); }
};

// The call's first kValueOperands + kIndexOperands operands, checked against the generated
// code; nullptr on success, else what does not fit.
const char* read_operands(const DendraxCall& call, int64_t batch, Operands& out) {
  if (batch <= 0) return "dendrax: empty batch";
  if (call.n_args < kValueOperands + kIndexOperands) return "dendrax: too few operands";
  for (int64_t k = 0; k < kValueOperands + kIndexOperands; ++k) {
    const int32_t expected = k < kValueOperands ? kValueType : kIndexType;
    if (call.args[k].dtype != expected) return "dendrax: an operand of the wrong type";
    if (call.args[k].count % batch != 0) return "dendrax: operands of different batches";
  }
  out.batch = batch;
  out.values = call.args;
  int64_t k = 0;
#define DENDRAX_SIZE(name) out.size.name = call.args[k++].count / batch;
  DENDRAX_VALUES(DENDRAX_SIZE)
#undef DENDRAX_SIZE
#define DENDRAX_INDEX(name)                                            \
  out.index.name = static_cast<const Index*>(call.args[k].data);      \
  out.count.name = call.args[k++].count / batch;
  DENDRAX_INDICES(DENDRAX_INDEX)
#undef DENDRAX_INDEX
  if (out.count.site_count != kMechanisms) {
    return "dendrax: site_count does not match the generated mechanisms";
  }
  if (out.size.ion_values != kIonRows * out.count.parent) {
    return "dendrax: ion_values does not match the generated ion rows";
  }
  return nullptr;
}
