//! Tests of segmentation and coalescing against independently built packets and an independent
//! checksum implementation.

mod coalesce;
mod packets;
mod roundtrip;
mod segment;
