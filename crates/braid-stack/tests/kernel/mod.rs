//! Tooling of the kernel interop test: namespace setup, the TUN device, the stack driver and the
//! kernel-side helper process.

pub mod helper;
pub mod setup;
pub mod stack_side;
pub mod tun_device;
