//! The dedup index as the daemon uses it: `DuplicateDetector` over
//! `SqlHistory` in a real SQLite store, documents committed in batches of 64
//! as the committer does. Loads synthetic reports (paragraphs drawn from a
//! large pool and shuffled, so reports are distinct but share some text like
//! real news; every 50th is a reposted copy of an earlier one with another
//! intro and its last paragraph cut) and reports, at 10k, 100k and 1M:
//!
//! * median time per report of lookup + insert (the `check` call), and of
//!   the whole commit (with the document row and the fsync), over the last
//!   20 batches of 64 before the size;
//! * bytes on disk per report of the history tables (dbstat);
//!   (lookups go to the in-memory `HistoryIndex`; its pairs are in the RSS);
//! * the process's resident memory;
//! * at the end, start-up: opening the store and deciding one new report.
//!
//! Run: `cargo bench -p gleaner-stages --bench dedup_index`; set
//! GLEANER_BENCH_REPORTS=100000 for a shorter run, GLEANER_BENCH_KEEP=FILE
//! to keep the database.

use gleaner_pipeline::store::{self, SqlHistory, Store};
use gleaner_pipeline::Document;
use gleaner_stages::dedup::DuplicateDetector;
use std::time::Instant;

mod common;

/// A tiny deterministic generator (splitmix64): the bench must be repeatable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Paragraphs of pseudo-words with a skewed (roughly Zipf) word frequency,
/// so common words and phrases recur across reports as they do in news.
fn paragraph_pool(rng: &mut Rng, count: usize) -> Vec<String> {
    let syllables = ["ka", "lo", "mi", "ren", "sa", "tu", "vel", "dor", "an", "es", "pri", "go", "hal", "zu", "ne", "bar"];
    let vocab: Vec<String> =
        (0..20_000).map(|_| (0..2 + rng.below(3)).map(|_| syllables[rng.below(syllables.len())]).collect::<String>()).collect();
    (0..count)
        .map(|_| {
            let words = 30 + rng.below(50);
            (0..words)
                .map(|_| {
                    // Squaring a uniform draw favours the head of the vocabulary.
                    let u = (rng.next() % 1_000_000) as f64 / 1_000_000.0;
                    vocab[(u * u * vocab.len() as f64) as usize].as_str()
                })
                .collect::<Vec<_>>()
                .join(" ")
                + "."
        })
        .collect()
}


fn index_bytes(store: &mut Store) -> i64 {
    let tx = store.transaction().unwrap();
    tx.query_row(
        "SELECT sum(pgsize) FROM dbstat WHERE name IN ('history_doc_keys', 'history_records', 'history_stages', 'documents_seq')",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let max: usize = std::env::var("GLEANER_BENCH_REPORTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let checkpoints: Vec<usize> = [10_000, 100_000, 1_000_000].into_iter().filter(|&n| n <= max).collect();
    let dir = tempfile::tempdir().unwrap();
    // GLEANER_BENCH_KEEP=FILE keeps the database there, to study start-up.
    let db = std::env::var_os("GLEANER_BENCH_KEEP").map(std::path::PathBuf::from).unwrap_or(dir.path().join("gleaner.db"));
    let mut store = Store::open(&db).unwrap();
    let dedup = DuplicateDetector::new(Default::default()).unwrap();
    let mut rng = Rng(42);
    let pool = paragraph_pool(&mut rng, 200_000);
    let at = "2026-01-01T00:00:00.000Z";
    let batch = 64;
    let (mut seq, mut duplicates, mut found) = (0usize, 0usize, 0usize);
    let mut batch_times: Vec<f64> = Vec::new();
    let mut check_times: Vec<f64> = Vec::new();
    // The paragraph choices of recent reports, to repost some of them.
    let mut recent: Vec<Vec<usize>> = Vec::new();
    println!("reports | dedup lookup+insert (us/report) | with document row and commit (us/report) | index bytes/report | RSS (MB) | copies found");
    for &checkpoint in &checkpoints {
        while seq < checkpoint {
            let docs: Vec<Document> = (0..batch)
                .map(|i| {
                    let n = seq + i;
                    let text = if n % 50 == 49 && !recent.is_empty() {
                        duplicates += 1;
                        let mut paras = recent[rng.below(recent.len())].clone();
                        paras.pop();
                        let intro = format!("Reposted by aggregator {n} from the wire.");
                        std::iter::once(intro).chain(paras.iter().map(|&p| pool[p].clone())).collect::<Vec<_>>().join("\n\n")
                    } else {
                        let paras: Vec<usize> = (0..6 + rng.below(8)).map(|_| rng.below(pool.len())).collect();
                        let text = paras.iter().map(|&p| pool[p].as_str()).collect::<Vec<_>>().join("\n\n");
                        if recent.len() < 1000 {
                            recent.push(paras);
                        } else {
                            let slot = rng.below(recent.len());
                            recent[slot] = paras;
                        }
                        text
                    };
                    Document::from_text(&format!("r{n}.txt"), &text)
                })
                .collect();
            let t0 = Instant::now();
            let mut check_time = 0.0;
            let (tx, index) = store.transaction_and_index().unwrap();
            for mut doc in docs {
                seq += 1;
                let t1 = Instant::now();
                let mut history = SqlHistory::new(&tx, index, "dedup", seq as u64).unwrap();
                dedup.check(&mut doc, &mut history).unwrap();
                history.finish().unwrap().add_to(index);
                check_time += t1.elapsed().as_secs_f64();
                found += doc.duplicate.is_some() as usize;
                // The document row the history names earlier reports by; its
                // text is left out to keep the bench's database small.
                doc.text.clear();
                store::insert_document(&tx, &doc, seq as i64, at, false).unwrap();
            }
            tx.commit().unwrap();
            store.index_committed();
            batch_times.push(t0.elapsed().as_secs_f64() * 1e6 / batch as f64);
            check_times.push(check_time * 1e6 / batch as f64);
        }
        let tail = batch_times.len().saturating_sub(20);
        let per_report = median(&mut batch_times[tail..].to_vec());
        let per_check = median(&mut check_times[tail..].to_vec());
        let bytes = index_bytes(&mut store) as f64 / seq as f64;
        println!("{seq:>7} | {per_check:>31.1} | {per_report:>41.1} | {bytes:>18.0} | {:>8.0} | {found}/{duplicates}", common::rss_mb());
    }
    drop(store);
    // Start-up: what the daemon does before it can decide a report.
    let words = gleaner_stages::dedup::word_hashes(&pool[..10].join("\n\n"));
    let t0 = Instant::now();
    for _ in 0..1000 {
        std::hint::black_box(dedup.signature(&words));
    }
    eprintln!("signature of {} words: {:.1} us", words.len(), t0.elapsed().as_secs_f64() * 1e3);
    // Start-up, three times (the OS has the file cached after the first).
    for _ in 0..3 {
        let t0 = Instant::now();
        let mut store = Store::open(&db).unwrap();
        let (tx, index) = store.transaction_and_index().unwrap();
        let loaded = t0.elapsed().as_secs_f64() * 1000.0;
        let pairs = index.len();
        let mut doc = Document::from_text("new.txt", &pool[..8].join("\n\n"));
        let mut history = SqlHistory::new(&tx, index, "dedup", seq as u64 + 1).unwrap();
        dedup.check(&mut doc, &mut history).unwrap();
        drop(history);
        drop(tx);
        println!(
            "start-up with {seq} reports (open + load {pairs} key pairs + first decision): {:.1} ms (load {loaded:.1} ms), RSS {:.0} MB",
            t0.elapsed().as_secs_f64() * 1000.0,
            common::rss_mb()
        );
    }
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!("database file (documents without text + index): {:.0} MB", size as f64 / 1e6);
}
