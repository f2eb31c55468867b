// Learning where a CA's answer will be ready, so that the first poll finds it there. A poll
// that comes too early costs a request; one that comes too late costs the run's time. The
// estimate leans early only by a little and recovers fast: it shrinks while first polls find
// the work done, and jumps past the observed time when one does not.
#include <certcli/acme.hpp>

#include <algorithm>

namespace certcli::acme {
namespace {

using std::chrono::milliseconds;

// A CA takes at least a round trip of its own to validate (it fetches the answer) or to sign,
// and a poll that comes back "pending" costs a request: 20 ms is early enough for a CA on the
// same machine. A learned wait beyond half a minute is more likely a bad sample than the CA's
// habit.
constexpr milliseconds kShortestFirstPoll{20};
constexpr milliseconds kLongestFirstPoll{30'000};
constexpr milliseconds kLongestBackoff{5'000};
constexpr milliseconds kUnmeasuredBackoff{250};
// The first few samples find the CA's speed (from 300 ms to 20 ms in eight orders); after
// that the estimate creeps down slowly, so an early poll stays rare.
constexpr long kDiscoverySamples = 8;
constexpr double kDiscoveryShrink = 0.7;
constexpr double kSteadyShrink = 0.97;
constexpr double kMargin = 1.25;
// Counted no further: only "few" or "many" matters, and the stored count stays small.
constexpr long kMostSamples = 1'000'000;

milliseconds clamp_first_poll(milliseconds delay) {
  return std::clamp(delay, kShortestFirstPoll, kLongestFirstPoll);
}

milliseconds scaled(milliseconds value, double factor) {
  return milliseconds{static_cast<milliseconds::rep>(static_cast<double>(value.count()) * factor)};
}

}  // namespace

milliseconds first_poll_delay(const LatencyEstimate& estimate, milliseconds unknown) {
  if (estimate.samples == 0) return unknown;
  return clamp_first_poll(estimate.typical);
}

milliseconds next_poll_backoff(const LatencyEstimate& estimate, milliseconds first_delay, milliseconds previous_backoff) {
  if (previous_backoff.count() > 0) return std::min(previous_backoff * 2, kLongestBackoff);
  if (estimate.samples == 0) return kUnmeasuredBackoff;
  return std::clamp(first_delay / 2, kShortestFirstPoll, kLongestBackoff);
}

void learn_latency(LatencyEstimate& estimate, milliseconds first_delay, bool settled_at_first_poll,
                   milliseconds observed) {
  if (settled_at_first_poll) {
    // Done by the first poll: the CA took at most first_delay (or the estimate, when a
    // Retry-After placed the poll later), perhaps much less.
    const double shrink = estimate.samples < kDiscoverySamples ? kDiscoveryShrink : kSteadyShrink;
    const milliseconds bound = estimate.samples == 0 ? first_delay : std::min(first_delay, estimate.typical);
    estimate.typical = clamp_first_poll(scaled(bound, shrink));
  } else {
    milliseconds seen = scaled(std::max(observed, first_delay), kMargin);
    // Once the CA's speed is known, one slow wait (a validation that met a dropped connection)
    // at most doubles the estimate: an outlier must not slow the next hundred orders.
    if (estimate.samples >= kDiscoverySamples) seen = std::min(seen, std::max(first_delay, estimate.typical) * 2);
    estimate.typical = clamp_first_poll(seen);
  }
  if (estimate.samples < kMostSamples) ++estimate.samples;
}

}  // namespace certcli::acme
