// A caching CPU allocator for libtorch: blocks of 1 MiB and more that a tensor frees are kept and
// handed to the next tensor of (nearly) the same size, instead of going back to malloc.
//
// Why: a training step allocates and frees the same large tensors every step. glibc gives blocks
// above its mmap threshold (at most 32 MiB) their own mapping and unmaps them at free, so each step
// page-faults them in afresh; on the 2-core Firecracker VM a first touch costs ≈ 3 ms per MiB, and a
// 2×512² step spent more time faulting than computing. With mmap switched off instead, libtorch's
// 64-byte-aligned requests (posix_memalign asks malloc for size + alignment) never fit the exact holes
// their predecessors left, and the heap kept growing for many steps. Keeping the blocks avoids both:
// after the first step every large request of a step is served from the cache.
//
// Policy: a request of n bytes (n ≥ 1 MiB) takes the smallest cached block of n to n + n/2 bytes, or
// else a new one from c10::alloc_cpu (a wider range reuses more and holds less: at 2×512², n/8 held
// 1.44 GB of blocks for a peak of 1.07 GB in tensors, n/2 1.35 GB at the same speed; 2n 1.28 GB but
// 5–10 % slower steps). Freed blocks are cached until the cache holds more than its
// limit (SEG_TORCH_CACHE_MB, default 4096; 0 turns the cache off), beyond which the least recently
// freed blocks are released. Smaller blocks go straight to c10::alloc_cpu and back to free_cpu.
// Thread-safe (libtorch's intra-op threads free temporaries).
#include "common.h"

#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <algorithm>
#include <cstdlib>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

namespace segtorch {
namespace {

constexpr size_t kMinCached = size_t(1) << 20;

struct Cache {
  std::mutex mu;
  // cached blocks, least recently freed first; and by size, each as its place in `order`
  std::list<void*> order;
  std::multimap<size_t, std::list<void*>::iterator> bySize;
  // every live or cached large block: its size
  std::unordered_map<void*, size_t> sizes;
  size_t cachedBytes = 0;
  size_t liveBytes = 0, peakLiveBytes = 0;  // large blocks held by tensors now, and at most
  size_t limit = 0;
  AllocStats stats;
};

Cache& cache() {
  static Cache* c = new Cache();  // never destroyed: tensors may be freed during process exit
  return *c;
}

// A large block of n bytes goes to a tensor (under c.mu).
void handOut(Cache& c, size_t n) {
  c.liveBytes += n;
  c.peakLiveBytes = std::max(c.peakLiveBytes, c.liveBytes);
}

void evictOldest(Cache& c) {
  void* p = c.order.front();
  const size_t n = c.sizes.at(p);
  auto it = c.bySize.lower_bound(n);
  while (*it->second != p) ++it;  // among the blocks of size n: every cached block is in both
  c.bySize.erase(it);
  c.order.pop_front();
  c.sizes.erase(p);
  c.cachedBytes -= n;
  c.stats.released++;
  c10::free_cpu(p);
}

// The one deleter of every block (libtorch's raw_deallocate needs a single one): caches large blocks.
void freeBlock(void* p) {
  Cache& c = cache();
  std::unique_lock<std::mutex> lock(c.mu);
  auto s = c.sizes.find(p);
  if (s == c.sizes.end()) {  // a small block
    lock.unlock();
    c10::free_cpu(p);
    return;
  }
  const size_t n = s->second;
  c.liveBytes -= n;
  if (n > c.limit) {
    c.sizes.erase(s);
    c.stats.released++;
    c10::free_cpu(p);
    return;
  }
  c.order.push_back(p);
  c.bySize.emplace(n, std::prev(c.order.end()));
  c.cachedBytes += n;
  while (c.cachedBytes > c.limit) evictOldest(c);
}

struct CachingAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) const override {
    if (n < kMinCached || cache().limit == 0) {
      void* p = c10::alloc_cpu(n);
      return {p, p, &freeBlock, c10::Device(c10::DeviceType::CPU)};
    }
    Cache& c = cache();
    {
      std::lock_guard<std::mutex> lock(c.mu);
      auto it = c.bySize.lower_bound(n);
      if (it != c.bySize.end() && it->first <= n + n / 2) {
        void* p = *it->second;
        c.cachedBytes -= it->first;
        handOut(c, it->first);
        c.order.erase(it->second);
        c.bySize.erase(it);
        c.stats.hits++;
        return {p, p, &freeBlock, c10::Device(c10::DeviceType::CPU)};
      }
      c.stats.misses++;
    }
    void* p = c10::alloc_cpu(n);  // outside the lock: may take a while (page faults)
    std::lock_guard<std::mutex> lock(c.mu);
    c.sizes[p] = n;
    handOut(c, n);
    return {p, p, &freeBlock, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &freeBlock; }
};

}  // namespace

bool installCachingAllocator() {
  const char* env = std::getenv("SEG_TORCH_CACHE_MB");
  const long long mb = env && *env ? std::atoll(env) : 4096;
  Cache& c = cache();
  c.limit = mb > 0 ? static_cast<size_t>(mb) << 20 : 0;
  if (c.limit == 0) return false;
  static CachingAllocator allocator;
  c10::SetCPUAllocator(&allocator, /* priority, above the default's 0 */ 1);
  return true;
}

AllocStats allocStats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  AllocStats s = c.stats;
  s.cachedBytes = c.cachedBytes;
  s.liveBytes = c.liveBytes;
  s.peakLiveBytes = c.peakLiveBytes;
  c.peakLiveBytes = c.liveBytes;
  s.limitBytes = c.limit;
  return s;
}

}  // namespace segtorch
