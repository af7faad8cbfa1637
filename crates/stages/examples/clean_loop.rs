//! Runs the clean stage over every file of a folder, ROUNDS times, for
//! profiling. Instruction counts under callgrind are the same on every run,
//! where wall-clock timings on a shared machine are not:
//!
//! ```text
//! cargo build --release -p gleaner-stages --example clean_loop
//! valgrind --tool=callgrind --toggle-collect='*BoilerplateStripper::clean*' \
//!     --callgrind-out-file=/dev/null target/release/examples/clean_loop DIR 40
//! ```
//!
//! Run it with 40 and with 120 rounds: the difference divided by 80 is the
//! steady-state count per round, without the lazy DFA's warm-up.
use gleaner_stages::clean::{BoilerplateStripper, CleanConfig};

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(dir), Some(rounds)) = (args.next(), args.next().and_then(|r| r.parse::<usize>().ok())) else {
        eprintln!("usage: clean_loop DIR ROUNDS");
        std::process::exit(2);
    };
    let pages: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .collect();
    let stripper = BoilerplateStripper::new(CleanConfig::default()).expect("the built-in lexicon loads");
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        for page in &pages {
            std::hint::black_box(stripper.clean(page));
        }
    }
    let bytes = pages.iter().map(String::len).sum::<usize>() * rounds;
    println!("{} pages x {rounds} rounds: {:.1} MiB/s", pages.len(), bytes as f64 / start.elapsed().as_secs_f64() / 1048576.0);
}
