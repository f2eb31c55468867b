// The stop flag behind certcli/interrupt.hpp.
#include <certcli/error.hpp>
#include <certcli/interrupt.hpp>

#include <atomic>

namespace certcli {
namespace {

// Lock-free, so setting it from a signal handler is safe.
std::atomic<bool> stop_flag{false};
static_assert(std::atomic<bool>::is_always_lock_free);

}  // namespace

void request_stop() noexcept { stop_flag.store(true, std::memory_order_relaxed); }

bool stop_requested() noexcept { return stop_flag.load(std::memory_order_relaxed); }

void throw_if_stop_requested() {
  if (stop_requested())
    throw Error(ErrorKind::interrupted, "interrupted by a signal",
                "run the same command again: the state is kept and an order in flight is resumed");
}

}  // namespace certcli
