//! braid-sim: a deterministic network simulator for sans-IO WireGuard devices.
//!
//! Many [`braid_proto::Device`]s exchange datagrams over simulated links with delay, jitter,
//! loss, duplication and dead paths, under a simulated clock. Minutes of protocol time
//! (rekeys at 120 s, keys zeroed at 540 s, handshake retries for 90 s) run in milliseconds,
//! and one seed fixes every random choice, so a failing scenario replays exactly.
//!
//! The pieces: [`Sim`] (clock, event agenda, nodes, links, the loop), [`LinkModel`] (one
//! direction of the underlay), [`WireLog`] (every datagram sent and what became of it),
//! IP packet builders and checkers ([`ip_packet`]), self-checking application payloads
//! ([`app_payload`]), and the WireGuard-specific helpers in [`wg`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod app_payload;
pub mod demo;
pub mod event_queue;
pub mod ip_packet;
pub mod link;
pub mod node;
pub mod sim;
pub mod sim_device;
pub mod wg;
pub mod wire_log;

pub use link::{LinkDecision, LinkModel};
pub use node::{IpFamily, NodeId, TunDelivery};
pub use sim::{AppSendRecord, DeliveryReport, NodeSetup, Sim, SimConfig, SimError, TrafficPattern, TunSend};
pub use sim_device::{Outbound, SimDevice};
pub use wg::PeeringOptions;
pub use wire_log::{ArrivalOutcome, ArrivalRecord, WireFate, WireLog, WireLogMode, WireRecord};
