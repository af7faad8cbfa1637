//! Trains the entity tagger's model from CoNLL-format files.
//!
//!     cargo run --release -p gleaner-stages --bin train-ner -- \
//!         --out config/models/ner.bin --epochs 16 FILE.conll...
//!
//! `--dev FILE` reports token accuracy on held-out data after each epoch.
//! Training is deterministic: documents are shuffled with a fixed seed.

use gleaner_stages::ner_model::{read_conll, Trainer, LABELS};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut out = String::from("config/models/ner.bin");
    let mut epochs = 16usize;
    let mut files = Vec::new();
    let mut dev = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().expect("--out FILE"),
            "--epochs" => epochs = args.next().and_then(|e| e.parse().ok()).expect("--epochs N"),
            "--dev" => dev = Some(args.next().expect("--dev FILE")),
            "-h" | "--help" => {
                eprintln!("usage: train-ner [--out FILE] [--epochs N] [--dev FILE] TRAIN.conll...");
                return;
            }
            f => files.push(f.to_string()),
        }
    }
    if files.is_empty() {
        eprintln!("error: give at least one CoNLL training file (token first, NER tag last column)");
        std::process::exit(2);
    }
    let mut docs = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("cannot read {f}: {e}"));
        docs.extend(read_conll(&text));
    }
    let dev_docs = dev.map(|f| read_conll(&std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("cannot read {f}: {e}"))));
    let tokens: usize = docs.iter().flatten().map(Vec::len).sum();
    eprintln!("{} documents, {tokens} tokens, labels {:?}", docs.len(), LABELS);
    let mut trainer = Trainer::default();
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
        let (right, total) = trainer.epoch(&docs);
        eprintln!("epoch {epoch}: train token accuracy {:.4} ({:.1}s)", right as f64 / total as f64, t0.elapsed().as_secs_f64());
    }
    let model = trainer.finish();
    if let Some(dev) = dev_docs {
        let (mut right, mut total) = (0, 0);
        for doc in &dev {
            let sents: Vec<Vec<&str>> = doc.iter().map(|s| s.iter().map(|(w, _)| w.as_str()).collect()).collect();
            for (sent, tags) in doc.iter().zip(model.tag_document(&sents)) {
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
