//! Fuzz target: one TCP connection fed an arbitrary sequence of segments, timer expiries and user
//! calls.
//!
//! Segments are built relative to what the connection last sent (so the fuzzer reaches the
//! synchronized states instead of bouncing off the acceptability test), with arbitrary flags,
//! windows, options and payloads. The connection must never panic, `poll_transmit` must always
//! run dry, every returned segment must match its payload and serialize, a RST must never be
//! answered, and no timer may stay due once it ran. ICMP errors quoting sequence numbers near
//! what was sent are mixed in: they may lower the MSS or end the connection, never raise the MSS.
#![no_main]

#[path = "../../crates/braid-stack/tests/common/connection_fuzz.rs"]
mod connection_fuzz;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| connection_fuzz::run(data));
