//! Unit tests of the device: two devices wired back to back, time advanced by hand.
