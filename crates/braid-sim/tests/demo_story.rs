//! The simulator's demo story (`cargo run -p braid-sim --example demo`, or `braid demo --sim`
//! in a braid built with `--features simulator`) tells the whole protocol story.

#[test]
fn the_simulator_demo_tells_the_whole_story() {
    let mut text = String::new();
    braid_sim::demo::run(&mut text);
    for needle in
        ["handshake initiation (148 B)", "handshake response (92 B)", "rekey", "roam", "duplicates 0, corrupted 0"]
    {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}
