// certcli/interrupt.hpp — a polite stop. main() turns SIGINT/SIGTERM into a request; long waits
// (polling sleeps, HTTP transfers) notice it within a fraction of a second and throw
// Error{interrupted}, so solvers clean up and the state records where the run stopped.
#pragma once

namespace certcli {

// Async-signal-safe: only sets a flag.
void request_stop() noexcept;
bool stop_requested() noexcept;
// Throws Error{interrupted} when a stop was requested.
void throw_if_stop_requested();

}  // namespace certcli
