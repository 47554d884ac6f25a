//! TUN offloads: segmenting the super-packets a TUN device with `IFF_VNET_HDR` and
//! `TUNSETOFFLOAD` hands us, and coalescing the packets we write back into super-packets.
//!
//! With TSO/USO enabled the kernel gives one read of up to 64 KiB per TCP or UDP burst instead
//! of one per MTU-sized packet; [`segment`] splits it into the packets WireGuard encrypts.
//! Inbound, a batch of decrypted packets usually holds long runs of one TCP flow;
//! [`Coalescer`] merges them (GRO) so the kernel's stack processes one large packet per run.
//! Both are pure functions over caller-provided buffers: no system calls, no allocation per
//! packet, and every malformed input is an [`OffloadError`], never a panic.
//!
//! The rules follow the kernel (`tcp_gso_segment`, `tcp_gro_receive`, `inet_gro_receive`) and
//! wireguard-go's `tun/offload_linux.go`: per segment the IPv4 ID increments, TCP sequence
//! numbers advance by `gso_size`, FIN/PSH stay on the last segment and CWR on the first, and
//! every checksum is recomputed. Only segments that [`segment`] would reproduce exactly are
//! merged, so coalescing followed by segmenting yields the original packets byte for byte.

mod coalesce;
mod error;
mod layout;
mod segment;
mod virtio_net_hdr;

#[cfg(test)]
mod tests;

pub use coalesce::{Coalescer, MAX_UDP_GRO_SEGMENTS};
pub use error::OffloadError;
pub use segment::{complete_checksum, segment, segment_from};
pub use virtio_net_hdr::{
    GsoKind, VirtioNetHdr, VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_ECN,
    VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP,
    VIRTIO_NET_HDR_GSO_UDP_L4, VIRTIO_NET_HDR_LEN,
};
