// dendrax native: the checkpoints of a gradient's backward pass within its memory budget.
// This is dendrax/checkpointing.py's `schedule`, step for step:
// tests/test_checkpoint.py compiles this file alone and compares the two. Byte counts
// saturate at the largest int64 (which no budget exceeds).

#include <algorithm>
#include <cstdint>
#include <limits>
#include <vector>

namespace dendrax_checkpoints {

constexpr int64_t kLargest = std::numeric_limits<int64_t>::max();

inline int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0); }

inline int64_t times(int64_t a, int64_t b) {  // a, b >= 0
  return a == 0 || b <= kLargest / a ? a * b : kLargest;
}

inline int64_t plus(int64_t a, int64_t b) { return a <= kLargest - b ? a + b : kLargest; }

// The most bytes stored at once: per level the checkpoints of one segment of the level above
// but its last segment's, then the states of one innermost segment and of the step after it.
inline int64_t stored_bytes(int64_t n_steps, const std::vector<int64_t>& lengths,
                            int64_t step_bytes, int64_t checkpoint_bytes) {
  int64_t total = 0, parent = n_steps;
  for (const int64_t k : lengths) {
    total = plus(total, times(ceil_div(parent, k) - 1, checkpoint_bytes));
    parent = k;
  }
  return plus(total, times(parent + 1, step_bytes));
}

// `lengths` with the innermost segments as long as `budget` allows.
inline std::vector<int64_t> stretched(int64_t n_steps, std::vector<int64_t> lengths,
                                      int64_t step_bytes, int64_t checkpoint_bytes,
                                      int64_t budget) {
  const int64_t parent = lengths.size() > 1 ? lengths[lengths.size() - 2] : n_steps;
  const std::vector<int64_t> upper(lengths.begin(), lengths.end() - 1);
  const int64_t above = stored_bytes(n_steps, upper, 0, checkpoint_bytes);
  const int64_t counts = ceil_div(parent, lengths.back());
  for (int64_t count = 2; count <= counts; ++count) {  // segments per parent
    const int64_t low = ceil_div(parent, count), high = ceil_div(parent, count - 1) - 1;
    const int64_t room = budget - above - (count - 1) * checkpoint_bytes;
    // room / step_bytes - 1, rounded down as Python's // rounds
    int64_t longest = high;
    if (step_bytes > 0) {
      const int64_t quotient = room / step_bytes - (room % step_bytes != 0 && room < 0);
      longest = std::min(high, quotient - 1);
    }
    if (low <= high && longest >= low) {
      lengths.back() = longest;
      return lengths;
    }
  }
  return lengths;
}

// `levels` segment lengths that fit in `budget`, or none.
inline std::vector<int64_t> levels_that_fit(int64_t n_steps, int64_t step_bytes,
                                            int64_t checkpoint_bytes, int64_t budget,
                                            int levels) {
  if (times(2, step_bytes) > budget) return {};
  for (int64_t base = 2;; ++base) {
    for (int wider = 0; wider < levels; ++wider) {
      std::vector<int64_t> lengths;
      int64_t parent = n_steps;
      for (int level = 0; level < levels; ++level) {
        parent = ceil_div(parent, level < wider ? base + 1 : base);
        lengths.push_back(parent);
      }
      if (stored_bytes(n_steps, lengths, step_bytes, checkpoint_bytes) <= budget) {
        return stretched(n_steps, lengths, step_bytes, checkpoint_bytes, budget);
      }
      if (lengths.back() == 1) return {};
    }
    // Later counts (all > base) keep more than levels x (base / 2 - 1) checkpoints.
    if (times(levels * (base - 1), checkpoint_bytes) / 2 > budget - times(2, step_bytes)) {
      return {};
    }
  }
}

// Levels: the fewest that any schedule needs (two segments a level, one step innermost).
inline int most_levels(int64_t n_steps) {
  int levels = 0;
  for (int64_t covered = 1; covered < n_steps; covered *= 2) ++levels;
  return levels;
}

struct Schedule {
  bool fits;
  std::vector<int64_t> lengths;  // per level, outermost first, its segments' steps
};

// Every step stored where they fit; else the fewest levels of checkpoints that fit.
inline Schedule schedule(int64_t n_steps, int64_t step_bytes, int64_t checkpoint_bytes,
                         int64_t budget) {
  if (n_steps <= 0 || stored_bytes(n_steps, {}, step_bytes, checkpoint_bytes) <= budget) {
    return {true, {}};
  }
  for (int levels = 1; levels <= most_levels(n_steps); ++levels) {
    std::vector<int64_t> lengths =
        levels_that_fit(n_steps, step_bytes, checkpoint_bytes, budget, levels);
    if (!lengths.empty()) return {true, lengths};
  }
  return {false, {}};
}

// The budget that `schedule` surely fits (checkpointing.py's `minimum_bytes`).
inline int64_t minimum_bytes(int64_t n_steps, int64_t step_bytes, int64_t checkpoint_bytes) {
  std::vector<int64_t> lengths;
  int64_t length = n_steps;
  for (int level = 0; level < most_levels(n_steps); ++level) {
    length = ceil_div(length, 2);
    lengths.push_back(length);
  }
  return stored_bytes(n_steps, lengths, step_bytes, checkpoint_bytes);
}

}  // namespace dendrax_checkpoints
