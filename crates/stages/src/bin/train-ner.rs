//! Trains the entity tagger's model from CoNLL-format files.
//!
//! ```text
//! cargo run --release -p gleaner-stages --bin train-ner -- \
//!     --out config/models/ner.bin --epochs 16 FILE.conll...
//! ```
//!
//! `--clusters FILE` trains with other word clusters than the built-in
//! `config/models/brown-clusters.txt` (the stage then needs the same file in
//! its `clusters` option). `--dev FILE` reports token accuracy on held-out
//! data. `--cv K` writes no model: it reports entity F1 over K folds of the
//! training documents, the yardstick for a feature change.
//! Training is deterministic: documents are shuffled with a fixed seed.

use gleaner_stages::ner_model::{label_spans, read_conll, Clusters, Model, Trainer, LABELS};
use std::sync::Arc;

type Doc = Vec<Vec<(String, usize)>>;

fn main() {
    let mut args = std::env::args().skip(1);
    let mut out = String::from("config/models/ner.bin");
    let mut epochs = 16usize;
    let mut files = Vec::new();
    let mut dev = None;
    let mut folds = 0usize;
    let mut clusters_file = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().expect("--out FILE"),
            "--epochs" => epochs = args.next().and_then(|e| e.parse().ok()).expect("--epochs N"),
            "--dev" => dev = Some(args.next().expect("--dev FILE")),
            "--cv" => folds = args.next().and_then(|e| e.parse().ok()).expect("--cv K"),
            "--clusters" => clusters_file = Some(args.next().expect("--clusters FILE")),
            "-h" | "--help" => {
                eprintln!("usage: train-ner [--out FILE] [--epochs N] [--clusters FILE] [--dev FILE] [--cv K] TRAIN.conll...");
                return;
            }
            f => files.push(f.to_string()),
        }
    }
    if files.is_empty() {
        eprintln!("error: give at least one CoNLL training file (token first, NER tag last column)");
        std::process::exit(2);
    }
    let clusters = match &clusters_file {
        Some(f) => Arc::new(Clusters::from_file(f.as_ref()).unwrap_or_else(|e| panic!("{e}"))),
        None => Clusters::builtin(),
    };
    let mut docs = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("cannot read {f}: {e}"));
        docs.extend(read_conll(&text));
    }
    let tokens: usize = docs.iter().flatten().map(Vec::len).sum();
    eprintln!("{} documents, {tokens} tokens, labels {:?}", docs.len(), LABELS);
    if folds > 1 {
        cross_validate(&docs, folds, epochs, &clusters);
        return;
    }
    let model = train(&mut docs, epochs, &clusters, true);
    if let Some(f) = dev {
        let dev_docs = read_conll(&std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("cannot read {f}: {e}")));
        let (mut right, mut total) = (0, 0);
        for doc in &dev_docs {
            for (sent, tags) in doc.iter().zip(tag(&model, doc)) {
                for ((_, gold), t) in sent.iter().zip(tags) {
                    right += usize::from(*gold == t);
                    total += 1;
                }
            }
        }
        eprintln!("dev token accuracy {:.4}", right as f64 / total as f64);
    }
    let file = std::fs::File::create(&out).unwrap_or_else(|e| panic!("cannot write {out}: {e}"));
    let n = model.write(std::io::BufWriter::new(file)).expect("write model");
    eprintln!("wrote {out}: {n} features, {} bytes", std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0));
}

/// Trains `epochs` passes over `docs`, reshuffled before each pass in the
/// same order every run.
fn train(docs: &mut [Doc], epochs: usize, clusters: &Arc<Clusters>, verbose: bool) -> Model {
    let mut trainer = Trainer::new(clusters.clone());
    let mut seed = 0x2545F4914F6CDD1Du64;
    for epoch in 1..=epochs {
        // Fisher-Yates with xorshift: same order every run.
        for i in (1..docs.len()).rev() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            docs.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        let t0 = std::time::Instant::now();
        let (right, total) = trainer.epoch(docs);
        if verbose {
            let secs = t0.elapsed().as_secs_f64();
            eprintln!("epoch {epoch}: train token accuracy {:.4} ({secs:.1}s)", right as f64 / total as f64);
        }
    }
    trainer.finish()
}

fn tag(model: &Model, doc: &Doc) -> Vec<Vec<usize>> {
    let sents: Vec<Vec<&str>> = doc.iter().map(|s| s.iter().map(|(w, _)| w.as_str()).collect()).collect();
    model.tag_document(&sents)
}

/// Entity spans of a label sequence without MISC, which the pipeline does
/// not report.
fn spans(labels: &[usize]) -> Vec<(usize, usize, usize)> {
    label_spans(labels).into_iter().filter(|&(ty, _, _)| ty != 4).collect()
}

/// K-fold cross-validation over documents: every training document is
/// tagged once by a model that did not see it. On 1,091 documents it is a
/// steadier yardstick for a feature change than the 216 of ner-dev.
fn cross_validate(docs: &[Doc], folds: usize, epochs: usize, clusters: &Arc<Clusters>) {
    let (mut tp, mut predicted, mut gold) = (0usize, 0usize, 0usize);
    for k in 0..folds {
        let mut train_docs: Vec<Doc> = docs.iter().enumerate().filter(|(i, _)| i % folds != k).map(|(_, d)| d.clone()).collect();
        let model = train(&mut train_docs, epochs, clusters, false);
        for doc in docs.iter().enumerate().filter(|(i, _)| i % folds == k).map(|(_, d)| d) {
            for (sent, tags) in doc.iter().zip(tag(&model, doc)) {
                let truth: Vec<usize> = sent.iter().map(|(_, l)| *l).collect();
                let (g, p) = (spans(&truth), spans(&tags));
                tp += p.iter().filter(|s| g.contains(s)).count();
                predicted += p.len();
                gold += g.len();
            }
        }
        eprintln!("fold {}/{folds} done", k + 1);
    }
    let (p, r) = (tp as f64 / predicted.max(1) as f64, tp as f64 / gold.max(1) as f64);
    println!("{folds}-fold entity F1 {:.4} (P {p:.4} R {r:.4}; {gold} PER/ORG/LOC entities)", 2.0 * p * r / (p + r).max(f64::MIN_POSITIVE));
}
