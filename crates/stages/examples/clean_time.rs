use gleaner_stages::clean::{BoilerplateStripper, CleanConfig};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = &args[1];
    let mut pages = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        pages.push(std::fs::read_to_string(e.unwrap().path()).unwrap_or_default());
    }
    let bytes: usize = pages.iter().map(|p| p.len()).sum();
    let mut strippers = Vec::new();
    for lex in &args[2..] {
        strippers.push(BoilerplateStripper::new(CleanConfig { lexicon: Some(lex.into()), ..Default::default() }).unwrap());
    }
    let mut best = vec![f64::MAX; strippers.len()];
    for _round in 0..15 {
        for (k, s) in strippers.iter().enumerate() {
            let t = std::time::Instant::now();
            for p in &pages {
                std::hint::black_box(s.clean(p));
            }
            best[k] = best[k].min(t.elapsed().as_secs_f64());
        }
    }
    for (k, lex) in args[2..].iter().enumerate() {
        println!("{lex}: best {:.1} ms, {:.1} MiB/s", best[k] * 1e3, bytes as f64 / best[k] / 1048576.0);
    }
}
