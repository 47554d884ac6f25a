//! Little-endian field access at fixed offsets, shared by the message views.
//!
//! Callers pass offsets that their length check has already proven in bounds, so the slicing
//! here cannot fail for a checked view.

/// Copies the `N` bytes starting at `at`.
pub(crate) fn read_array<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&buf[at..at + N]);
    out
}

/// Overwrites the `N` bytes starting at `at`.
pub(crate) fn write_array<const N: usize>(buf: &mut [u8], at: usize, value: &[u8; N]) {
    buf[at..at + N].copy_from_slice(value);
}

/// Reads the little-endian `u32` at `at`.
pub(crate) fn read_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(read_array(buf, at))
}

/// Writes `value` as a little-endian `u32` at `at`.
pub(crate) fn write_u32(buf: &mut [u8], at: usize, value: u32) {
    write_array(buf, at, &value.to_le_bytes());
}

/// Reads the little-endian `u64` at `at`.
pub(crate) fn read_u64(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(read_array(buf, at))
}

/// Writes `value` as a little-endian `u64` at `at`.
pub(crate) fn write_u64(buf: &mut [u8], at: usize, value: u64) {
    write_array(buf, at, &value.to_le_bytes());
}
