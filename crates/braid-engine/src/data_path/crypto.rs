//! The AEAD of a batch, on the calling thread or spread over a thread pool.
//!
//! The device decides in order (route, session, counter) and finishes in order (replay
//! window, roaming); in between, each packet's AEAD is independent and may run anywhere.

use braid_proto::{DropReason, OpenJob, Opened, SealJob};
use rayon::prelude::*;

/// Batches smaller than this are sealed or opened on the calling thread: spreading them over
/// cores costs more in wake-ups than the AEAD work it shares.
const PARALLEL_MIN: usize = 8;

/// Threads for the AEAD: `threads` if given (1: on the data-path thread only), else all
/// cores on machines with at least 4 and none below: on fewer cores the kernel, the peer and
/// the application need the other core, and sharing the AEAD costs more than it saves
/// (docs/BENCHMARKS.md).
pub fn crypto_pool(threads: Option<usize>) -> Option<rayon::ThreadPool> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = match threads {
        Some(n) => n,
        None if cores >= 4 => cores,
        None => 1,
    };
    if threads < 2 {
        return None;
    }
    rayon::ThreadPoolBuilder::new().num_threads(threads).thread_name(|i| format!("braid-crypto-{i}")).build().ok()
}

/// Seals every job into its slot of `out` (consecutive, in job order), on the pool when there
/// is one and the batch is large. Job `(job, i)` seals `packet(i)`.
pub fn seal_all<'p>(
    pool: Option<&rayon::ThreadPool>,
    jobs: &[(SealJob, usize)],
    packet: impl Fn(usize) -> &'p [u8],
    out: &mut [u8],
) {
    let Some(pool) = pool.filter(|_| jobs.len() >= PARALLEL_MIN) else {
        let mut rest = out;
        for (job, i) in jobs {
            let (slot, tail) = std::mem::take(&mut rest).split_at_mut(job.len);
            rest = tail;
            // Slots are sized by the job itself, so sealing cannot fail.
            let sealed = job.seal(packet(*i), slot);
            debug_assert!(sealed.is_ok());
        }
        return;
    };
    // The parallel path needs the slots as a list (one small allocation per batch of >= 8).
    let mut work: Vec<(&SealJob, &[u8], &mut [u8])> = Vec::with_capacity(jobs.len());
    let mut rest = out;
    for (job, i) in jobs {
        let (slot, tail) = std::mem::take(&mut rest).split_at_mut(job.len);
        rest = tail;
        work.push((job, packet(*i), slot));
    }
    pool.install(|| {
        work.par_iter_mut().for_each(|(job, packet, slot)| {
            let sealed = job.seal(packet, slot);
            debug_assert!(sealed.is_ok());
        })
    });
}

/// What opening one datagram gave: `None` when it had no job (a handshake, or no session).
pub type OpenResult = Option<Result<Opened, DropReason>>;

/// Opens every transport datagram (the `size`-byte chunks of `run`) that has a job, on the
/// pool when there is one and the run is large.
pub fn open_all(
    pool: Option<&rayon::ThreadPool>,
    run: &mut [u8],
    size: usize,
    jobs: &[Option<OpenJob>],
    results: &mut [OpenResult],
) {
    fn open(((datagram, job), result): ((&mut [u8], &Option<OpenJob>), &mut OpenResult)) {
        *result = job.as_ref().map(|job| job.open(datagram));
    }
    match pool {
        Some(pool) if jobs.iter().filter(|j| j.is_some()).count() >= PARALLEL_MIN => {
            pool.install(|| run.par_chunks_mut(size).zip(jobs.par_iter()).zip(results.par_iter_mut()).for_each(open))
        }
        _ => run.chunks_mut(size).zip(jobs.iter()).zip(results.iter_mut()).for_each(open),
    }
}
