// dendrax native: arrays of values that start on a cache line, pasted at the top of a model's
// library (kernel.cc, adjoint.cc) where a template says @BUFFER@.
//
// A group's lanes are one vector register (64 bytes with AVX-512, step.h), and every row of
// its arrays holds whole vectors. std::vector's memory is 16-byte aligned, so that nearly
// every vector load or store of such an array straddled two cache lines; from 64-byte
// aligned memory none does. Measured on the benchmark tree's batch of 64 (AMD EPYC, AVX-512,
// one core): value_and_grad 2-3 % faster, the forward pass 1 %.

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace dendrax_buffer {

constexpr std::size_t kLineBytes = 64;

template <class U>
struct CacheLines {
  using value_type = U;
  CacheLines() = default;
  template <class V>
  CacheLines(const CacheLines<V>&) {}
  U* allocate(std::size_t n) {
    // aligned_alloc takes a multiple of the alignment, at least one line.
    const std::size_t lines = (n * sizeof(U) + kLineBytes - 1) / kLineBytes;
    void* memory = std::aligned_alloc(kLineBytes, (lines > 0 ? lines : 1) * kLineBytes);
    if (memory == nullptr) throw std::bad_alloc();
    return static_cast<U*>(memory);
  }
  void deallocate(U* memory, std::size_t) { std::free(memory); }
  template <class V>
  bool operator==(const CacheLines<V>&) const {
    return true;
  }
  template <class V>
  bool operator!=(const CacheLines<V>&) const {
    return false;
  }
};

// The adjoint's stored steps (`Storage`, step.h), zeroed as any vector's: on Linux, blocks of
// a megabyte or more are mapped with their pages faulted in at once (MAP_POPULATE), which
// the kernel zeroes, instead of faulting page by page under the vector's own zeroing; the
// rest is zeroed here. The first gradient of a batch of 64 benchmark trees (8 lane groups,
// 225 MB of fresh storage each) took 1.79-1.84 s instead of 2.18-2.25 s (1.2 s once the
// storage is kept). Leaving the pages to fault during the forward pass's streaming stores
// instead cost it more than zeroing them first. Elsewhere, CacheLines.
#if defined(__linux__) && defined(MAP_POPULATE)
template <class U>
struct Prefaulted : CacheLines<U> {
  using value_type = U;
  template <class V>
  struct rebind {
    using other = Prefaulted<V>;
  };
  static constexpr std::size_t kMappedBytes = std::size_t{1} << 20;
  Prefaulted() = default;
  template <class V>
  Prefaulted(const Prefaulted<V>&) {}
  U* allocate(std::size_t n) {
    if (n * sizeof(U) < kMappedBytes) {
      U* memory = CacheLines<U>::allocate(n);
      std::memset(static_cast<void*>(memory), 0, n * sizeof(U));
      return memory;
    }
    void* memory = mmap(nullptr, n * sizeof(U), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (memory == MAP_FAILED) throw std::bad_alloc();
    return static_cast<U*>(memory);
  }
  void deallocate(U* memory, std::size_t n) {
    if (n * sizeof(U) < kMappedBytes) return CacheLines<U>::deallocate(memory, n);
    munmap(memory, n * sizeof(U));
  }
  template <class V>
  void construct(V* at) {
    ::new (static_cast<void*>(at)) V;
  }
  template <class V, class... Args>
  void construct(V* at, Args&&... args) {
    ::new (static_cast<void*>(at)) V(static_cast<Args&&>(args)...);
  }
};
template <class U>
using StoredSteps = Prefaulted<U>;
#else
template <class U>
using StoredSteps = CacheLines<U>;
#endif

}  // namespace dendrax_buffer
