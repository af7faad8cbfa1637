//! The statistical part of the entity tagger: an averaged perceptron over
//! BIO tags, decoded greedily left to right (the model of Collins 2002 and
//! of spaCy's first tagger), with the features that made Illinois NER and
//! MITIE good: word shape, affixes, a window of words, the previous tags,
//! and document-level memory (how this word was tagged earlier in the same
//! report).
//!
//! Features are hashed to 64 bits; the model file stores, per feature, the
//! averaged weights of the labels it has weight for. Build it with
//! `cargo run --release -p gleaner-stages --bin train-ner` (see README).

use std::collections::HashMap;
use std::io::{Read, Write};
use xxhash_rust::xxh3::xxh3_64;

/// Labels: O, then B- and I- for each type.
pub const LABELS: [&str; 9] = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];
/// File magic; the last byte is the feature-set version: a model trained
/// with other features must not load.
const MAGIC: &[u8; 8] = b"GLNER\x00\x00\x04";

/// A token with its byte span in the text it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The token text.
    pub text: String,
    /// Byte offset of its start.
    pub start: usize,
    /// Byte offset of its end.
    pub end: usize,
}

/// Splits text into CoNLL-like tokens: words (with inner `.'-&`: "U.S.",
/// "al-Sinwar", "AT&T") and single punctuation marks; initials and known
/// abbreviations keep their period ("P. Simmons", "Mr."). Sentences end at
/// `.!?` tokens and at line breaks.
pub fn tokenize(text: &str) -> Vec<Vec<Token>> {
    let mut sentences = Vec::new();
    let mut current: Vec<Token> = Vec::new();
    let bytes = text.as_bytes();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\n' {
            if !current.is_empty() {
                sentences.push(std::mem::take(&mut current));
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if c.is_alphanumeric() {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphanumeric() {
                    end = j + d.len_utf8();
                    chars.next();
                } else if matches!(d, '.' | '\'' | '’' | '-' | '&') {
                    // Joiner only when a letter or digit follows ("U.S", "al-Sinwar").
                    let next = text[j + d.len_utf8()..].chars().next();
                    if next.is_some_and(char::is_alphanumeric) {
                        end = j + d.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                } else {
                    break;
                }
            }
            // "U.S." and "Mr." keep their final period.
            let word = &text[i..end];
            let initial = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
            if end < bytes.len() && bytes[end] == b'.' && (initial || word.contains('.') || ABBREVIATIONS.contains(&word)) {
                end += 1;
                chars.next();
            }
            current.push(Token { text: text[i..end].to_string(), start: i, end });
        } else {
            current.push(Token { text: c.to_string(), start: i, end: i + c.len_utf8() });
            if matches!(c, '.' | '!' | '?') {
                sentences.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        sentences.push(current);
    }
    sentences
}

const ABBREVIATIONS: &[&str] = &[
    "Mr", "Mrs", "Ms", "Dr", "Prof", "Gen", "Lt", "Col", "Maj", "Capt", "Sgt", "Sen", "Rep", "Gov", "St", "Jr", "Sr", "Inc",
    "Corp", "Ltd", "Co", "No", "Jan", "Feb", "Mar", "Apr", "Aug", "Sept", "Sep", "Oct", "Nov", "Dec", "vs", "Mt", "Ft",
];

/// Word shape: `Xxxx`, `XX`, `dd`, `Xx-Xx`, runs collapsed to two.
fn shape(w: &str) -> String {
    let mut out = String::new();
    let mut last = ' ';
    let mut run = 0;
    for c in w.chars() {
        let s = if c.is_uppercase() {
            'X'
        } else if c.is_lowercase() {
            'x'
        } else if c.is_numeric() {
            'd'
        } else {
            c
        };
        if s == last {
            run += 1;
            if run >= 2 {
                continue;
            }
        } else {
            run = 0;
        }
        out.push(s);
        last = s;
    }
    out
}

/// Everything the feature function needs about a sentence, with the
/// strings each feature combines hashed once per token.
pub struct Context<'a> {
    lower: Vec<String>,
    /// Per token: hashes of the lowercased word, its shape, and its 2/3
    /// prefixes and 2/3/4 suffixes.
    word: Vec<u64>,
    shape: Vec<u64>,
    affix: Vec<[u64; 5]>,
    hyphen: Vec<bool>,
    /// Per token: its Brown cluster (bit path, first bit lowest), 0 = none.
    cluster: Vec<u64>,
    /// The sentence is a headline in capitals: case tells nothing there.
    all_caps: bool,
    _words: std::marker::PhantomData<&'a str>,
}

const BOS: u64 = 0x5EED_0000_0000_0001;
const EOS: u64 = 0x5EED_0000_0000_0002;

impl<'a> Context<'a> {
    /// Precomputes per-token hashes.
    pub fn new(words: Vec<&'a str>, clusters: &Clusters) -> Context<'a> {
        let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
        let letters: Vec<char> = words.iter().flat_map(|w| w.chars()).filter(|c| c.is_alphabetic()).collect();
        let all_caps = letters.len() > 8 && letters.iter().all(|c| c.is_uppercase());
        let word = lower.iter().map(|w| xxh3_64(w.as_bytes())).collect();
        let shape = words.iter().map(|w| xxh3_64(shape(w).as_bytes())).collect();
        let affix = lower
            .iter()
            .map(|lw| {
                let bounds: Vec<usize> = lw.char_indices().map(|(b, _)| b).chain(std::iter::once(lw.len())).collect();
                let n = bounds.len() - 1;
                let pre = |k: usize| xxh3_64(&lw.as_bytes()[..bounds[k.min(n)]]);
                let suf = |k: usize| xxh3_64(&lw.as_bytes()[bounds[n.saturating_sub(k)]..]);
                [pre(2), pre(3), suf(2), suf(3), suf(4)]
            })
            .collect();
        let hyphen = words.iter().map(|w| w.contains('-')).collect();
        let cluster = words.iter().zip(&lower).map(|(w, lw)| clusters.path(w, lw)).collect();
        Context { lower, word, shape, affix, hyphen, cluster, all_caps, _words: std::marker::PhantomData }
    }
}

/// The word clusters shipped with the tagger (`tools/build-clusters.sh`).
pub const BUILTIN_CLUSTERS: &str = include_str!("../../../config/models/brown-clusters.txt");

/// Brown word clusters: words that occur in the same contexts in a large
/// unlabelled corpus share a prefix of their bit path ("Paris" and "Tokyo"
/// share all of it), so a name the annotated text never contained still
/// looks like the ones it did. One of the features that took Illinois NER
/// past .90 (Ratinov & Roth 2009).
/// Read from `bits<TAB>word[<TAB>count]` lines, the form of Liang's
/// `brown-cluster` output.
pub struct Clusters {
    /// Hashed word (case kept) -> bit path, first step in the lowest bit.
    paths: KeyMap<u64>,
    /// Identifies the table, so a model only runs with the clusters it was
    /// trained with.
    fingerprint: u64,
}

impl Clusters {
    /// Parses a clusters file; the error names the line at fault.
    pub fn parse(text: &str) -> Result<Clusters, String> {
        let mut paths = KeyMap::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let mut cols = line.split('\t');
            let (Some(bits), Some(word)) = (cols.next(), cols.next()) else {
                return Err(format!("line {}: expected `bits<TAB>word`", n + 1));
            };
            if bits.is_empty() || bits.len() > 40 || !bits.bytes().all(|b| b == b'0' || b == b'1') {
                return Err(format!("line {}: `{bits}` is not a bit path of 1 to 40 zeros and ones", n + 1));
            }
            let path = bits.bytes().enumerate().fold(0u64, |acc, (i, b)| acc | (u64::from(b - b'0') << i));
            paths.insert(xxh3_64(word.as_bytes()), path);
        }
        Ok(Clusters { paths, fingerprint: xxh3_64(text.as_bytes()) })
    }

    /// Reads and parses a clusters file; the error names the file.
    pub fn from_file(path: &std::path::Path) -> Result<Clusters, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read clusters {}: {e}", path.display()))?;
        Clusters::parse(&text).map_err(|e| format!("clusters {}: {e}", path.display()))
    }

    /// The built-in clusters, parsed once per process.
    pub fn builtin() -> std::sync::Arc<Clusters> {
        static BUILTIN: std::sync::OnceLock<std::sync::Arc<Clusters>> = std::sync::OnceLock::new();
        BUILTIN
            .get_or_init(|| std::sync::Arc::new(Clusters::parse(BUILTIN_CLUSTERS).expect("the shipped clusters file parses")))
            .clone()
    }

    /// The path of a word as written, else of its capitalised and its
    /// lowercased form (headlines in capitals are not in the corpus as
    /// such); 0 when none is known.
    fn path(&self, word: &str, lower: &str) -> u64 {
        let look = |x: &str| self.paths.get(&xxh3_64(x.as_bytes())).copied();
        look(word)
            .or_else(|| {
                // Capitalising changes nothing for a digit or an uncased
                // script: skip the allocation (the lower-case look-up follows).
                let first = lower.chars().next().filter(|c| c.is_lowercase())?;
                let mut title: String = first.to_uppercase().collect();
                title.push_str(&lower[first.len_utf8()..]);
                if title == word {
                    return None;
                }
                look(&title)
            })
            .or_else(|| if lower == word { None } else { look(lower) })
            .unwrap_or(0)
    }
}

/// Combines a template number and hashed parts into one feature key.
fn mix(template: u64, parts: &[u64]) -> u64 {
    let mut acc = template.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for p in parts {
        acc = (acc ^ p).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        acc ^= acc >> 31;
    }
    acc ^ (acc >> 29)
}

/// Feature keys are already hashes: use them as they are.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type KeyMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<KeyHasher>>;

/// Hashed features of token `i`, given the two previous labels and what the
/// document said about this word before (`memory`: label index or none).
pub fn features(ctx: &Context, i: usize, prev: usize, prev2: usize, memory: Option<usize>, out: &mut Vec<u64>) {
    out.clear();
    let n = ctx.word.len() as isize;
    let at = |v: &Vec<u64>, j: isize| -> u64 {
        if j < 0 {
            BOS
        } else if j >= n {
            EOS
        } else {
            v[j as usize]
        }
    };
    let ii = i as isize;
    let (w, sh) = (ctx.word[i], ctx.shape[i]);
    let [p2, p3, s2, s3, s4] = ctx.affix[i];
    let caps = u64::from(ctx.all_caps);
    let (t1, t2) = (prev as u64, prev2 as u64);
    out.extend_from_slice(&[
        mix(0, &[]),
        mix(1, &[w]),
        mix(2, &[sh, caps]),
        mix(3, &[p3]),
        mix(4, &[s3]),
        mix(5, &[s4]),
        mix(6, &[at(&ctx.word, ii - 1)]),
        mix(7, &[at(&ctx.word, ii + 1)]),
        mix(8, &[at(&ctx.word, ii - 2)]),
        mix(9, &[at(&ctx.word, ii + 2)]),
        mix(10, &[at(&ctx.word, ii - 1), w]),
        mix(11, &[w, at(&ctx.word, ii + 1)]),
        mix(12, &[at(&ctx.shape, ii - 1), sh]),
        mix(13, &[sh, at(&ctx.shape, ii + 1)]),
        mix(14, &[u64::from(i == 0), sh]),
        mix(15, &[t1]),
        mix(16, &[t2, t1]),
        mix(17, &[t1, w]),
        mix(18, &[t1, sh]),
        mix(19, &[p2]),
        mix(20, &[s2]),
        mix(21, &[at(&ctx.word, ii - 1), sh]),
        mix(22, &[sh, at(&ctx.word, ii + 1)]),
        mix(23, &[at(&ctx.shape, ii - 1), sh, at(&ctx.shape, ii + 1)]),
        mix(24, &[t1, at(&ctx.word, ii + 1)]),
    ]);
    // Cluster path prefixes of 4, 6, 10 and 20 steps (Ratinov & Roth 2009),
    // and 10 steps of each neighbour's (a bit above the path marks the
    // sentence edge).
    let c = ctx.cluster[i];
    if c != 0 {
        for (t, bits) in [(28u64, 4u32), (29, 6), (30, 10), (31, 20)] {
            out.push(mix(t, &[c & ((1u64 << bits) - 1)]));
        }
    }
    let cp = if i > 0 { ctx.cluster[i - 1] } else { 1 << 40 };
    let cn = if i + 1 < ctx.cluster.len() { ctx.cluster[i + 1] } else { 1 << 40 };
    out.push(mix(32, &[cp & ((1 << 10) - 1) | (cp >> 40 << 11)]));
    out.push(mix(33, &[cn & ((1 << 10) - 1) | (cn >> 40 << 11)]));
    if ctx.hyphen[i] {
        out.push(mix(25, &[caps]));
    }
    if let Some(m) = memory {
        out.push(mix(26, &[m as u64]));
        out.push(mix(27, &[m as u64, sh]));
    }
}

/// The model: per hashed feature, weights for each label, and the word
/// clusters its features were computed with.
pub struct Model {
    weights: KeyMap<[f32; 9]>,
    clusters: std::sync::Arc<Clusters>,
}

/// Label type without the B-/I- prefix: 0 = O, 1 = PER, 2 = ORG, 3 = LOC, 4 = MISC.
pub fn label_type(l: usize) -> usize {
    l.div_ceil(2)
}

/// The entities of a BIO label sequence as (type, first token, end token):
/// a span runs on over the I- labels of its own type.
pub fn label_spans(labels: &[usize]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < labels.len() {
        let ty = label_type(labels[i]);
        let mut j = i + 1;
        // I- labels are the even ones.
        while ty != 0 && j < labels.len() && labels[j].is_multiple_of(2) && label_type(labels[j]) == ty {
            j += 1;
        }
        if ty != 0 {
            out.push((ty, i, j));
        }
        i = j;
    }
    out
}

impl Model {
    fn scores(&self, feats: &[u64]) -> [f32; 9] {
        let mut s = [0f32; 9];
        for f in feats {
            if let Some(w) = self.weights.get(f) {
                for (a, b) in s.iter_mut().zip(w) {
                    *a += b;
                }
            }
        }
        s
    }

    /// Tags every sentence of a document; `memory` carries word -> label
    /// across sentences, as the document-level feature needs.
    pub fn tag_document(&self, sentences: &[Vec<&str>]) -> Vec<Vec<usize>> {
        let mut memory: HashMap<String, usize> = HashMap::new();
        let mut feats = Vec::with_capacity(32);
        sentences
            .iter()
            .map(|words| {
                let ctx = Context::new(words.clone(), &self.clusters);
                let mut tags = Vec::with_capacity(words.len());
                for i in 0..words.len() {
                    let prev = if i > 0 { tags[i - 1] } else { 0 };
                    let prev2 = if i > 1 { tags[i - 2] } else { 0 };
                    features(&ctx, i, prev, prev2, memory.get(&ctx.lower[i]).copied(), &mut feats);
                    let s = self.scores(&feats);
                    let mut best = 0;
                    for (l, v) in s.iter().enumerate() {
                        // An I- tag must continue its own type.
                        if l % 2 == 0 && l > 0 && label_type(prev) != label_type(l) {
                            continue;
                        }
                        if *v > s[best] || (best % 2 == 0 && best > 0 && label_type(prev) != label_type(best)) {
                            best = l;
                        }
                    }
                    tags.push(best);
                }
                for (i, t) in tags.iter().enumerate() {
                    if *t != 0 && words[i].chars().next().is_some_and(char::is_uppercase) {
                        memory.insert(ctx.lower[i].clone(), *t);
                    }
                }
                tags
            })
            .collect()
    }

    /// Reads a model file trained with `clusters`.
    pub fn read(mut r: impl Read, clusters: std::sync::Arc<Clusters>) -> std::io::Result<Model> {
        let mut magic = [0u8; 8];
        r.read_exact(&mut magic)?;
        if &magic != MAGIC {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "not a gleaner NER model of this version (4): retrain it with train-ner",
            ));
        }
        let mut fingerprint = [0u8; 8];
        r.read_exact(&mut fingerprint)?;
        if u64::from_le_bytes(fingerprint) != clusters.fingerprint {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "trained with other word clusters than the ones given: retrain it with train-ner --clusters FILE",
            ));
        }
        let mut n = [0u8; 8];
        r.read_exact(&mut n)?;
        let n = u64::from_le_bytes(n) as usize;
        let mut weights = KeyMap::with_capacity_and_hasher(n, Default::default());
        let mut buf = vec![0u8; 8 + 2];
        for _ in 0..n {
            r.read_exact(&mut buf)?;
            let key = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes"));
            let mask = u16::from_le_bytes([buf[8], buf[9]]);
            let mut w = [0f32; 9];
            for (l, slot) in w.iter_mut().enumerate() {
                if mask & (1 << l) != 0 {
                    let mut q = [0u8; 2];
                    r.read_exact(&mut q)?;
                    *slot = f32::from(i16::from_le_bytes(q)) / SCALE;
                }
            }
            weights.insert(key, w);
        }
        Ok(Model { weights, clusters })
    }

    /// Writes the model, dropping weights that round to zero at 1/SCALE.
    pub fn write(&self, mut w: impl Write) -> std::io::Result<usize> {
        let mut entries: Vec<(&u64, &[f32; 9])> =
            self.weights.iter().filter(|(_, v)| v.iter().any(|x| (x * SCALE).round() != 0.0)).collect();
        entries.sort_by_key(|(k, _)| **k);
        w.write_all(MAGIC)?;
        w.write_all(&self.clusters.fingerprint.to_le_bytes())?;
        w.write_all(&(entries.len() as u64).to_le_bytes())?;
        for (k, v) in &entries {
            let q: Vec<i16> = v.iter().map(|x| (x * SCALE).round().clamp(-32767.0, 32767.0) as i16).collect();
            let mask: u16 = q.iter().enumerate().filter(|(_, x)| **x != 0).fold(0, |m, (l, _)| m | (1 << l));
            w.write_all(&k.to_le_bytes())?;
            w.write_all(&mask.to_le_bytes())?;
            for x in q.iter().filter(|x| **x != 0) {
                w.write_all(&x.to_le_bytes())?;
            }
        }
        Ok(entries.len())
    }
}

/// Weights are stored as i16 at this scale.
const SCALE: f32 = 1000.0;

/// Averaged-perceptron training state.
pub struct Trainer {
    model: Model,
    totals: KeyMap<[f64; 9]>,
    stamps: KeyMap<[u64; 9]>,
    step: u64,
}

impl Trainer {
    /// A trainer whose model will use `clusters`.
    pub fn new(clusters: std::sync::Arc<Clusters>) -> Trainer {
        Trainer {
            model: Model { weights: KeyMap::default(), clusters },
            totals: KeyMap::default(),
            stamps: KeyMap::default(),
            step: 0,
        }
    }

    fn update(&mut self, feats: &[u64], truth: usize, guess: usize) {
        self.step += 1;
        if truth == guess {
            return;
        }
        for f in feats {
            let w = self.model.weights.entry(*f).or_insert([0.0; 9]);
            let t = self.totals.entry(*f).or_insert([0.0; 9]);
            let s = self.stamps.entry(*f).or_insert([0; 9]);
            for (l, delta) in [(truth, 1.0f32), (guess, -1.0f32)] {
                t[l] += (self.step - s[l]) as f64 * w[l] as f64;
                s[l] = self.step;
                w[l] += delta;
            }
        }
    }

    /// One pass over documents (sentences of (word, gold label)).
    pub fn epoch(&mut self, docs: &[Vec<Vec<(String, usize)>>]) -> (usize, usize) {
        let (mut right, mut total) = (0, 0);
        let mut feats = Vec::with_capacity(32);
        for doc in docs {
            let mut memory: HashMap<String, usize> = HashMap::new();
            for sent in doc {
                let words: Vec<&str> = sent.iter().map(|(w, _)| w.as_str()).collect();
                let ctx = Context::new(words.clone(), &self.model.clusters);
                let mut tags: Vec<usize> = Vec::with_capacity(words.len());
                for i in 0..words.len() {
                    let prev = if i > 0 { tags[i - 1] } else { 0 };
                    let prev2 = if i > 1 { tags[i - 2] } else { 0 };
                    features(&ctx, i, prev, prev2, memory.get(&ctx.lower[i]).copied(), &mut feats);
                    let s = self.model.scores(&feats);
                    let guess = (0..9).max_by(|a, b| s[*a].total_cmp(&s[*b])).unwrap_or(0);
                    let truth = sent[i].1;
                    self.update(&feats, truth, guess);
                    right += usize::from(truth == guess);
                    total += 1;
                    // Gold history while training (teacher forcing).
                    tags.push(truth);
                }
                for (i, t) in tags.iter().enumerate() {
                    if *t != 0 && words[i].chars().next().is_some_and(char::is_uppercase) {
                        memory.insert(ctx.lower[i].clone(), *t);
                    }
                }
            }
        }
        (right, total)
    }

    /// The averaged model.
    pub fn finish(mut self) -> Model {
        for (f, w) in self.model.weights.iter_mut() {
            let t = self.totals.get(f).copied().unwrap_or([0.0; 9]);
            let s = self.stamps.get(f).copied().unwrap_or([0; 9]);
            for l in 0..9 {
                let total = t[l] + (self.step - s[l]) as f64 * w[l] as f64;
                w[l] = (total / self.step.max(1) as f64) as f32;
            }
        }
        self.model
    }
}

/// Reads CoNLL files (token first, NER tag last, IOB1 or IOB2) into
/// documents of sentences with BIO label indices.
pub fn read_conll(text: &str) -> Vec<Vec<Vec<(String, usize)>>> {
    let mut docs = vec![Vec::new()];
    let mut sent: Vec<(String, String)> = Vec::new();
    let flush = |sent: &mut Vec<(String, String)>, docs: &mut Vec<Vec<Vec<(String, usize)>>>| {
        if sent.is_empty() {
            return;
        }
        let mut out = Vec::with_capacity(sent.len());
        let mut prev_type = "";
        for (w, tag) in sent.iter() {
            let (kind, ty) = tag.split_once('-').unwrap_or(("O", ""));
            let label = if tag == "O" {
                "O".to_string()
            } else if kind == "B" || ty != prev_type {
                format!("B-{ty}")
            } else {
                format!("I-{ty}")
            };
            prev_type = if tag == "O" { "" } else { ty };
            out.push((w.clone(), LABELS.iter().position(|l| *l == label).unwrap_or(0)));
        }
        docs.last_mut().expect("a document").push(out);
        sent.clear();
    };
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.is_empty() {
            flush(&mut sent, &mut docs);
            continue;
        }
        if cols[0] == "-DOCSTART-" {
            flush(&mut sent, &mut docs);
            if !docs.last().is_some_and(Vec::is_empty) {
                docs.push(Vec::new());
            }
            continue;
        }
        sent.push((cols[0].to_string(), cols[cols.len() - 1].to_string()));
    }
    flush(&mut sent, &mut docs);
    docs.retain(|d| !d.is_empty());
    docs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn tokens_keep_abbreviations_and_spans() {
        let text = "Mr. Smith met U.S. officials and P. Simmons in al-Quds.\nNew line";
        let s = tokenize(text);
        let words: Vec<&str> = s[0].iter().map(|t| t.text.as_str()).collect();
        assert_eq!(words, vec!["Mr.", "Smith", "met", "U.S.", "officials", "and", "P.", "Simmons", "in", "al-Quds", "."]);
        for t in s.iter().flatten() {
            assert_eq!(&text[t.start..t.end], t.text);
        }
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn clusters_read_liang_paths_and_find_headline_words() {
        let c = Clusters::parse("0110010101\tParis\t512\n0111\tthe\n").unwrap();
        // First step of the path in the lowest bit: prefixes are masks.
        assert_eq!(c.path("Paris", "paris"), 0b1010100110);
        assert_eq!(c.path("PARIS", "paris"), 0b1010100110, "a headline word falls back to its capitalised form");
        assert_eq!(c.path("The", "the"), 0b1110, "a sentence-initial word falls back to lower case");
        assert_eq!(c.path("Lyon", "lyon"), 0);
        let err = Clusters::parse("0110\tParis\n01x0\tLyon\n").err().unwrap();
        assert!(err.starts_with("line 2:"), "{err}");
        assert!(Clusters::parse("Paris\n").is_err());
        // The shipped table parses and knows common names.
        assert_ne!(Clusters::builtin().path("London", "london"), 0);
    }

    #[test]
    fn label_spans_follow_i_labels_of_their_own_type() {
        // B-PER I-PER O B-ORG B-ORG I-ORG B-MISC I-LOC
        assert_eq!(label_spans(&[1, 2, 0, 3, 3, 4, 7, 6]), vec![(1, 0, 2), (2, 3, 4), (2, 4, 6), (4, 6, 7), (3, 7, 8)]);
    }

    #[test]
    fn shapes() {
        assert_eq!(shape("Sinwar"), "Xxx");
        assert_eq!(shape("IRGC"), "XX");
        assert_eq!(shape("1996-08-22"), "dd-dd-dd");
    }

    #[test]
    fn iob1_becomes_bio_and_model_round_trips() {
        let docs = read_conll("-DOCSTART- O\n\nPeter I-PER\nBlackburn I-PER\nof O\nEU I-ORG\n\n");
        assert_eq!(docs[0][0].iter().map(|x| LABELS[x.1]).collect::<Vec<_>>(), vec!["B-PER", "I-PER", "O", "B-ORG"]);
        let mut t = Trainer::new(Clusters::builtin());
        for _ in 0..5 {
            t.epoch(&docs);
        }
        let m = t.finish();
        let mut bytes = Vec::new();
        m.write(&mut bytes).unwrap();
        let back = Model::read(bytes.as_slice(), Clusters::builtin()).unwrap();
        let other = Arc::new(Clusters::parse("01\tPeter\n").unwrap());
        let err = Model::read(bytes.as_slice(), other).err().expect("other clusters are refused");
        assert!(err.to_string().contains("retrain"), "{err}");
        let tags = back.tag_document(&[vec!["Peter", "Blackburn", "of", "EU"]]);
        assert_eq!(tags[0].iter().map(|t| LABELS[*t]).collect::<Vec<_>>(), vec!["B-PER", "I-PER", "O", "B-ORG"]);
    }
}
