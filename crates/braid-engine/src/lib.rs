//! braid-engine: the one data path every braid tunnel runs on.
//!
//! ```text
//!            packet side                      engine                        underlay
//!   (TUN queues, an in-process device)                                (UDP sockets, …)
//!   PacketReader::read ──► PacketBatch ──► prepare_seal ─► seal (all cores) ─► Underlay::send
//!   PacketWriter::write ◄── DeliveryBatch ◄── finish_open ◄─ open (all cores) ◄─ Underlay::recv
//! ```
//!
//! The WireGuard state machine ([`braid_proto::Device`]) decides; the engine moves batches
//! through it with as few system calls and locks as the two sides allow: one device lock per
//! read of the packet side or per received message, the AEAD unlocked and on a thread pool
//! when cores are spare, GSO runs on the way out, GRO runs on the way in, and no allocation
//! per packet. What is behind each side is a trait, so the daemon's TUN device, an
//! application's in-process device and, later, multipath socket sets or AF_XDP all run on
//! the same code:
//!
//! * [`PacketSide`] (+ [`PacketReader`], [`PacketWriter`]): where plaintext IP packets come
//!   from and go to. [`TunSide`] serves a (multi-queue) TUN interface with offloads;
//!   [`in_process::InProcessSide`] an application in the same process.
//! * [`Underlay`]: where the encrypted datagrams go. [`UdpUnderlay`] is the usual pair of UDP
//!   sockets with GSO/GRO, packet info and `sendmmsg`/`recvmmsg`.
//!
//! An [`Engine`] runs the loop — readiness of both sides, the device's timers, a lane thread
//! per further packet-side queue — on its own thread ([`Engine::spawn`]) or inside the
//! caller's ([`Engine::turn`]); an [`EngineHandle`] configures and observes it from anywhere.
#![deny(unsafe_code)]

mod data_path;
mod engine;
mod handshake_queue;
mod handshake_worker;
pub mod in_process;
mod lane;
mod packet_side;
mod send_order;
mod shared;
mod tun;
mod udp;
mod underlay;

pub use data_path::{crypto_pool, DataPathStats};
pub use engine::{Engine, EngineHandle, EngineOptions, EngineStats, Exit, PeerEvent, RunningEngine};
pub use handshake_queue::{HandshakeQueueStats, HANDSHAKE_QUEUE_CAPACITY};
pub use packet_side::{
    DeliveryBatch, LinkMtu, PacketBatch, PacketReader, PacketSide, PacketSideInfo, PacketWriter, DELIVERY_BATCH,
    DELIVERY_HEADROOM, MAX_PACKET, MAX_PACKETS_PER_READ,
};
pub use tun::TunSide;
pub use udp::UdpUnderlay;
pub use underlay::{Arrival, SendOutcome, SendRuns, Underlay, UnderlayInfo};
