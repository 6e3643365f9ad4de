// dendrax native: the XLA FFI handler shared by every model, compiled once per jaxlib.
//
// A model's library (kernel.cc, adjoint.cc filled in by dendrax/native/*source.py) exports
// plain entry points (call.h); dendrax/native/library.py registers each here under a name,
// and every FFI call names its entry point in the attribute "entry". This keeps XLA's FFI
// headers, which take most of a compile, out of the per-model code.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "xla/ffi/api/ffi.h"

@CALL@

namespace ffi = xla::ffi;

namespace {

int64_t steps_done = 0;  // added to atomically by the kernels (call.h), read by Python
std::mutex registry_mutex;
std::map<std::string, DendraxEntry, std::less<>> registry;

DendraxBuffer view(const ffi::AnyBuffer& buffer) {
  const auto dims = buffer.dimensions();
  return DendraxBuffer{buffer.untyped_data(), static_cast<int64_t>(buffer.element_count()),
                       static_cast<int64_t>(dims.size()), dims.begin(),
                       static_cast<int32_t>(buffer.element_type())};
}

ffi::Error Call(ffi::RemainingArgs args, ffi::RemainingRets results, std::string_view entry,
                int64_t threads, int64_t stored_bytes) {
  DendraxEntry function = nullptr;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    const auto found = registry.find(entry);
    if (found != registry.end()) function = found->second;
  }
  if (function == nullptr) {
    return ffi::Error::InvalidArgument("dendrax: no native entry point " + std::string(entry));
  }
  std::vector<DendraxBuffer> arg_views, result_views;
  for (size_t k = 0; k < args.size(); ++k) {
    auto buffer = args.get<ffi::AnyBuffer>(k);
    if (!buffer.has_value()) return buffer.error();
    arg_views.push_back(view(*buffer));
  }
  for (size_t k = 0; k < results.size(); ++k) {
    auto buffer = results.get<ffi::AnyBuffer>(k);
    if (!buffer.has_value()) return buffer.error();
    result_views.push_back(view(**buffer));
  }
  const DendraxCall call{arg_views.data(),    static_cast<int64_t>(arg_views.size()),
                         result_views.data(), static_cast<int64_t>(result_views.size()),
                         threads,             stored_bytes,
                         &steps_done};
  const char* error = function(&call);
  if (error != nullptr) return ffi::Error::InvalidArgument(error);
  return ffi::Error::Success();
}

}  // namespace

extern "C" int64_t dendrax_steps_done() { return __atomic_load_n(&steps_done, __ATOMIC_RELAXED); }

extern "C" void dendrax_register(const char* name, DendraxEntry entry) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  registry[name] = entry;
}

XLA_FFI_DEFINE_HANDLER_SYMBOL(DendraxHandler, Call,
                              ffi::Ffi::Bind()
                                  .RemainingArgs()
                                  .RemainingRets()
                                  .Attr<std::string_view>("entry")
                                  .Attr<int64_t>("threads")
                                  .Attr<int64_t>("stored_bytes"));
