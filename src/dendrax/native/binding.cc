// dendrax native: the XLA FFI handler shared by every model, compiled once per jaxlib.
//
// A model's library (kernel.cc, adjoint.cc filled in by dendrax/native/*source.py) exports
// plain entry points (call.h); dendrax/native/library.py registers each here under a name,
// and every FFI call names its entry point in the attribute "entry". An entry point not
// registered yet (a part of a library still compiling, or not compiled until first needed)
// is asked of the resolver that library.py installs, which compiles, loads and registers
// it. The handler reads XLA's call frame through XLA's plain C API (c_api.h), whose C++
// wrappers (ffi.h) took seconds to compile: this file compiles in a fraction of one.

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xla/ffi/api/c_api.h"

@CALL@

namespace {

int64_t steps_done = 0;  // added to atomically by the kernels (call.h), read by Python

// The registered entry points, by name (a handful per model: searched in order).
struct Registered {
  char* name;
  DendraxEntry entry;
};
pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
Registered* registry = nullptr;
size_t n_registered = 0, capacity = 0;

// Compiles, loads and registers the entry point of a name; returns it, or nullptr.
typedef DendraxEntry (*Resolver)(const char* name);
Resolver resolver = nullptr;

DendraxEntry registered(const char* name) {
  DendraxEntry found = nullptr;
  pthread_mutex_lock(&registry_mutex);
  for (size_t k = 0; k < n_registered && found == nullptr; ++k) {
    if (strcmp(registry[k].name, name) == 0) found = registry[k].entry;
  }
  pthread_mutex_unlock(&registry_mutex);
  return found;
}

// The entry point of `name`, from the resolver where it is not registered yet (outside the
// lock: the resolver registers what it builds).
DendraxEntry lookup(const char* name) {
  DendraxEntry entry = registered(name);
  return entry != nullptr || resolver == nullptr ? entry : resolver(name);
}

// The entry point `symbol` of the library of the call's own entry point (names are
// "library:symbol").
DendraxEntry companion(const DendraxCall* call, const char* symbol) {
  const char* colon = strrchr(call->entry, ':');
  const size_t prefix = colon == nullptr ? 0 : static_cast<size_t>(colon - call->entry) + 1;
  char name[256];
  if (prefix + strlen(symbol) + 1 > sizeof(name)) return nullptr;
  memcpy(name, call->entry, prefix);
  strcpy(name + prefix, symbol);
  return lookup(name);
}

XLA_FFI_Error* failure(const XLA_FFI_CallFrame* frame, const char* message) {
  XLA_FFI_Error_Create_Args args;
  memset(&args, 0, sizeof(args));
  args.struct_size = XLA_FFI_Error_Create_Args_STRUCT_SIZE;
  args.message = message;
  args.errc = XLA_FFI_Error_Code_INVALID_ARGUMENT;
  return frame->api->XLA_FFI_Error_Create(&args);
}

// What XLA asks of a handler when it is registered: the API version it was built for.
XLA_FFI_Error* describe(XLA_FFI_Metadata_Extension* extension) {
  extension->metadata->api_version.struct_size = XLA_FFI_Api_Version_STRUCT_SIZE;
  extension->metadata->api_version.extension_start = nullptr;
  extension->metadata->api_version.major_version = XLA_FFI_API_MAJOR;
  extension->metadata->api_version.minor_version = XLA_FFI_API_MINOR;
  extension->metadata->traits = 0;
  extension->metadata->state_type_id.type_id = 0;  // stateless
  return nullptr;
}

DendraxBuffer view(const XLA_FFI_Buffer* buffer) {
  int64_t count = 1;
  for (int64_t d = 0; d < buffer->rank; ++d) count *= buffer->dims[d];
  return DendraxBuffer{buffer->data, count, buffer->rank, buffer->dims,
                       static_cast<int32_t>(buffer->dtype)};
}

// The attribute `name` of the frame, of `type`, or nullptr.
const void* attribute(const XLA_FFI_CallFrame* frame, const char* name, XLA_FFI_AttrType type) {
  const size_t length = strlen(name);
  for (int64_t k = 0; k < frame->attrs.size; ++k) {
    const XLA_FFI_ByteSpan* key = frame->attrs.names[k];
    if (key->len == length && memcmp(key->ptr, name, length) == 0) {
      return frame->attrs.types[k] == type ? frame->attrs.attrs[k] : nullptr;
    }
  }
  return nullptr;
}

int64_t integer(const XLA_FFI_CallFrame* frame, const char* name) {
  const auto* scalar =
      static_cast<const XLA_FFI_Scalar*>(attribute(frame, name, XLA_FFI_AttrType_SCALAR));
  if (scalar == nullptr) return -1;
  if (scalar->dtype == XLA_FFI_DataType_S64) return *static_cast<const int64_t*>(scalar->value);
  if (scalar->dtype == XLA_FFI_DataType_S32) return *static_cast<const int32_t*>(scalar->value);
  return -1;
}

// The call's arguments and results as DendraxBuffers, in that order, into `views`; false
// where one is not a buffer.
bool views_of(const XLA_FFI_CallFrame* frame, DendraxBuffer* views) {
  for (int64_t k = 0; k < frame->args.size; ++k) {
    if (frame->args.types[k] != XLA_FFI_ArgType_BUFFER) return false;
    views[k] = view(static_cast<const XLA_FFI_Buffer*>(frame->args.args[k]));
  }
  for (int64_t k = 0; k < frame->rets.size; ++k) {
    if (frame->rets.types[k] != XLA_FFI_RetType_BUFFER) return false;
    views[frame->args.size + k] = view(static_cast<const XLA_FFI_Buffer*>(frame->rets.rets[k]));
  }
  return true;
}

}  // namespace

extern "C" int64_t dendrax_steps_done() { return __atomic_load_n(&steps_done, __ATOMIC_RELAXED); }

extern "C" void dendrax_register(const char* name, DendraxEntry entry) {
  pthread_mutex_lock(&registry_mutex);
  size_t k = 0;
  while (k < n_registered && strcmp(registry[k].name, name) != 0) ++k;
  if (k == n_registered) {
    if (n_registered == capacity) {
      capacity = capacity == 0 ? 16 : 2 * capacity;
      registry = static_cast<Registered*>(realloc(registry, capacity * sizeof(Registered)));
    }
    registry[k].name = strdup(name);
    ++n_registered;
  }
  registry[k].entry = entry;
  pthread_mutex_unlock(&registry_mutex);
}

extern "C" void dendrax_set_resolver(Resolver function) { resolver = function; }

extern "C" XLA_FFI_Error* DendraxHandler(XLA_FFI_CallFrame* frame) {
  XLA_FFI_Extension_Base* extension = frame->extension_start;
  if (extension != nullptr && extension->type == XLA_FFI_Extension_Metadata) {
    return describe(reinterpret_cast<XLA_FFI_Metadata_Extension*>(extension));
  }
  if (frame->stage != XLA_FFI_ExecutionStage_EXECUTE) {
    return failure(frame, "dendrax: the handler runs in XLA's execute stage only");
  }
  const auto* entry_span =
      static_cast<const XLA_FFI_ByteSpan*>(attribute(frame, "entry", XLA_FFI_AttrType_STRING));
  char entry[256];
  if (entry_span == nullptr || entry_span->len + 1 > sizeof(entry)) {
    return failure(frame, "dendrax: a native call needs its entry point's name");
  }
  memcpy(entry, entry_span->ptr, entry_span->len);
  entry[entry_span->len] = '\0';
  const DendraxEntry function = lookup(entry);
  if (function == nullptr) {
    char message[384];
    snprintf(message, sizeof(message),
             "dendrax: no native entry point %s (its library could not be built or loaded: "
             "the \"dendrax\" log says why)",
             entry);
    return failure(frame, message);
  }
  const int64_t n_args = frame->args.size, n_results = frame->rets.size;
  DendraxBuffer* views =
      static_cast<DendraxBuffer*>(malloc((n_args + n_results + 1) * sizeof(DendraxBuffer)));
  const DendraxCall call{views,       n_args,      views + n_args,
                         n_results,   integer(frame, "threads"),
                         integer(frame, "stored_bytes"),
                         &steps_done, entry,       companion};
  const char* error = views_of(frame, views) ? function(&call)
                                             : "dendrax: native calls take buffers only";
  free(views);
  return error == nullptr ? nullptr : failure(frame, error);
}
