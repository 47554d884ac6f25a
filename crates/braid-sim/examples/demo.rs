//! Prints the simulator's demo story: `cargo run -p braid-sim --example demo`.

fn main() {
    let mut story = String::new();
    braid_sim::demo::run(&mut story);
    print!("{story}");
}
