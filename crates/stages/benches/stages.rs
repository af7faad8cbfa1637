//! Per-stage throughput on the sample reports (repository fixtures):
//! `cargo bench -p gleaner-stages`. Reports time per document; MB/s is
//! computed from the input size criterion prints as throughput.
//!
//! `GLEANER_BENCH_DOCS=DIR` benches on the `.txt` files of DIR instead
//! (e.g. the dev set's pages: more sites, more varied boilerplate).
//!
//! The entity tagger is measured in tokens per second (criterion's
//! "elements"), and the memory its model, word clusters and gazetteer take
//! is printed once (resident set before and after building it).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gleaner_pipeline::{Document, MemoryHistory, OrderedStage, Stage};
use gleaner_stages::{clean, dates, dedup, entities, language};
use std::path::Path;

mod common;

fn samples() -> Vec<(String, String)> {
    let dir = match std::env::var_os("GLEANER_BENCH_DOCS") {
        Some(d) => d.into(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/samples"),
    };
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "txt"))
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}


fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let docs = samples();
    let bytes: usize = docs.iter().map(|(_, t)| t.len()).sum();
    let cleaner = clean::BoilerplateStripper::new(Default::default()).unwrap();
    let cleaned: Vec<Document> = docs
        .iter()
        .map(|(n, t)| {
            let mut d = Document::from_text(n, t);
            rt.block_on(cleaner.process(&mut d)).unwrap();
            d
        })
        .collect();

    let mut g = c.benchmark_group(format!("stages ({} documents)", docs.len()));
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("clean", |b| {
        b.iter(|| {
            for (_, t) in &docs {
                std::hint::black_box(cleaner.clean(t));
            }
        })
    });
    let lang = language::LanguageDetector::new(Default::default()).unwrap();
    g.bench_function("language", |b| {
        b.iter(|| {
            for d in &cleaned {
                let mut d = d.clone();
                rt.block_on(lang.process(&mut d)).unwrap();
            }
        })
    });
    let dates = dates::DateExtractor::new(Default::default());
    g.bench_function("dates", |b| {
        b.iter(|| {
            for d in &cleaned {
                let mut d = d.clone();
                rt.block_on(dates.process(&mut d)).unwrap();
            }
        })
    });
    let before = common::rss_mb();
    let tagger = entities::EntityTagger::new(Default::default()).unwrap();
    eprintln!("entity tagger: {:.1} MB resident for model, word clusters and gazetteer", common::rss_mb() - before);
    let tokens: usize = cleaned.iter().map(|d| gleaner_stages::ner_model::tokenize(&d.text).iter().map(Vec::len).sum::<usize>()).sum();
    g.throughput(Throughput::Elements(tokens as u64));
    g.bench_function("entities", |b| {
        b.iter(|| {
            for d in &cleaned {
                std::hint::black_box(tagger.tag(&d.text));
            }
        })
    });
    g.throughput(Throughput::Bytes(bytes as u64));
    let dedup = dedup::DuplicateDetector::new(Default::default()).unwrap();
    g.bench_function("dedup (in-memory history)", |b| {
        b.iter(|| {
            let mut h = MemoryHistory::default();
            for d in &cleaned {
                let mut d = d.clone();
                h.begin(&d.doc_id, "bench.txt");
                dedup.process(&mut d, &mut h).unwrap();
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
