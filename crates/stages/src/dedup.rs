//! `dedup`: the [`DuplicateDetector`]. Reports a document that repeats an
//! earlier one: exact (same normalised cleaned text) or near (MinHash over
//! word shingles, candidates found through an LSH index), and links reports
//! that reuse a large part of an earlier one as `related`.
//!
//! An ordered stage: it runs in the committer, in arrival order, so "earlier"
//! is well defined. Its index lives in the engine's [`History`] (SQLite in
//! the daemon), written in the same transaction as the document.
//!
//! The index is built to stay small and flat for years of reports:
//!
//! * per report, `bands` keys (LSH buckets of `rows` full 32-bit MinHash
//!   values each) and one record: the signature cut to `bits` bits per slot
//!   (b-bit MinHash, Li & König 2010: matching low bits still estimate the
//!   Jaccard similarity once corrected for chance agreement), the shingle
//!   count, a hash of the whole text and the story's first report;
//! * a lookup reads at most `candidates_per_key` newest reports per bucket,
//!   so its cost does not grow with the archive even for a story reposted a
//!   thousand times (the newest copies all point at the same first report).

use gleaner_pipeline::document::{Duplicate, Related};
use gleaner_pipeline::{parse_options, BuiltStage, DocNumber, Document, History, HistoryError, OrderedStage, StageError};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// Options of the `dedup` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupConfig {
    /// Words per shingle.
    pub shingle_words: usize,
    /// MinHash signature length.
    pub permutations: usize,
    /// Bits of each signature slot kept in the index (1 to 16).
    pub bits: u32,
    /// LSH bands (at most 16); with `rows` rows each, a pair at similarity s
    /// becomes a candidate with probability 1 - (1 - s^rows)^bands.
    pub bands: usize,
    /// Rows per band; `bands * rows` must not exceed `permutations`.
    pub rows: usize,
    /// Estimated Jaccard similarity from which a candidate is a near duplicate.
    pub threshold: f64,
    /// Documents with fewer words are only checked for exact copies.
    pub min_words: usize,
    /// A candidate below `threshold` that shares at least this share of
    /// either document's shingles is linked as `related` (partial overlap).
    pub related_containment: f64,
    /// Most reports read per bucket (the newest).
    pub candidates_per_key: usize,
}

impl Default for DedupConfig {
    fn default() -> Self {
        // 12 bands x 2 rows: a pair at 0.6 similarity (the least similar
        // copy in the dev set is at 0.63) becomes a candidate with
        // probability 1 - (1 - 0.6^2)^12 = 0.995, at 0.5 with 0.968; pairs
        // that share a stock phrase (s ~ 0.01) almost never. 128 slots of 4
        // bits estimate s with a standard error of about 0.045 at 0.45.
        DedupConfig {
            shingle_words: 5,
            permutations: 128,
            bits: 4,
            bands: 12,
            rows: 2,
            threshold: 0.45,
            min_words: 30,
            related_containment: 0.5,
            candidates_per_key: 16,
        }
    }
}

/// Builds the stage from its TOML table.
pub fn build(table: toml::Table) -> Result<BuiltStage, String> {
    let config: DedupConfig = parse_options(table)?;
    Ok(BuiltStage::Ordered(Arc::new(DuplicateDetector::new(config)?)))
}

/// The dedup stage.
pub struct DuplicateDetector {
    config: DedupConfig,
}

/// Format of the stored record; a change of layout gets a new number.
const RECORD_VERSION: u8 = 1;

/// What the index keeps of one report.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    /// How many reports back the story's first report is (0: this one).
    root_back: u64,
    /// Distinct shingles.
    shingles: u64,
    /// Hash of the normalised text: equal hashes and shingle counts = exact copy.
    exact: u32,
    /// Signature slots cut to `bits` bits.
    sig: Vec<u16>,
}

impl DuplicateDetector {
    /// Checks the options. Hashing is seeded with constants: signatures
    /// persist across restarts and must stay comparable.
    pub fn new(config: DedupConfig) -> Result<DuplicateDetector, String> {
        if config.bands * config.rows > config.permutations || config.bands == 0 || config.rows == 0 {
            return Err(format!(
                "bands ({}) x rows ({}) must be at least 1 and at most permutations ({})",
                config.bands, config.rows, config.permutations
            ));
        }
        if config.permutations > 4096 {
            return Err(format!("permutations ({}) must be at most 4096", config.permutations));
        }
        if config.bands > 16 {
            return Err(format!("bands ({}) must be at most 16", config.bands));
        }
        if !(1..=16).contains(&config.bits) {
            return Err(format!("bits ({}) must be between 1 and 16", config.bits));
        }
        if !(0.0..=1.0).contains(&config.threshold) || config.shingle_words == 0 {
            return Err("threshold must be in [0, 1] and shingle_words at least 1".into());
        }
        Ok(DuplicateDetector { config })
    }

    /// MinHash signature of a text's word hashes (see [`word_hashes`]), and
    /// its number of distinct shingles.
    ///
    /// One-permutation hashing (Li, Owen & Zhang 2012): each shingle is hashed
    /// once, the hash picks a slot and the slot keeps its smallest value; a
    /// slot no shingle fell into borrows the value of the slot a fixed probe
    /// sequence leads to (optimal densification, Shrivastava 2017). Same
    /// estimate as `permutations` independent hash functions, at one hash
    /// per shingle instead of `permutations`.
    pub fn signature(&self, words: &[u64]) -> (Vec<u32>, usize) {
        let k = self.config.shingle_words.min(words.len().max(1));
        let mut shingles: Vec<u64> = words
            .windows(k)
            .map(|w| {
                mix(w.iter().fold(0x51_7CC1_B727_220Au64, |h, &x| (h.rotate_left(23) ^ x).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            })
            .collect();
        shingles.sort_unstable();
        shingles.dedup();
        let slots = self.config.permutations as u64;
        let mut sig = vec![u32::MAX; slots as usize];
        let mut filled = vec![false; slots as usize];
        for &h in &shingles {
            // High bits choose the slot, low bits are the value: independent
            // parts of one good hash.
            let slot = (((h >> 32) * slots) >> 32) as usize;
            sig[slot] = sig[slot].min(h as u32);
            filled[slot] = true;
        }
        if !shingles.is_empty() {
            let borrowed: Vec<u32> = (0..slots)
                .map(|i| {
                    if filled[i as usize] {
                        return sig[i as usize];
                    }
                    let mut attempt = 0u64;
                    loop {
                        attempt += 1;
                        let j = (((mix((i << 32) | attempt) >> 32) * slots) >> 32) as usize;
                        if filled[j] {
                            // Rehash per slot, so two borrowing slots do not
                            // agree more often than two real ones.
                            return mix(sig[j] as u64 ^ i << 40) as u32;
                        }
                    }
                })
                .collect();
            sig = borrowed;
        }
        (sig, shingles.len())
    }

    /// The LSH buckets of a signature: band number in the top bits, so two
    /// bands never share a key.
    pub fn band_keys(&self, sig: &[u32]) -> Vec<u32> {
        sig.chunks(self.config.rows)
            .take(self.config.bands)
            .enumerate()
            .map(|(band, rows)| {
                let bytes: Vec<u8> = rows.iter().flat_map(|r| r.to_le_bytes()).collect();
                ((band as u32) << 28) | (xxh3_64(&bytes) as u32 & 0x0FFF_FFFF)
            })
            .collect()
    }

    /// Whether a report of this many shingles is long enough for a near match.
    fn comparable(&self, shingles: u64) -> bool {
        shingles + self.config.shingle_words as u64 > self.config.min_words as u64
    }

    #[cfg(test)]
    fn similarity(&self, a: &[u16], b: &[u16]) -> f64 {
        if a.len() != b.len() || a.is_empty() {
            return 0.0;
        }
        self.estimate(a.iter().zip(b).filter(|(x, y)| x == y).count(), a.len())
    }

    /// Jaccard similarity estimated from the share of agreeing b-bit slots:
    /// slots agree by chance with probability 2^-bits, which is taken out.
    fn estimate(&self, agreeing: usize, slots: usize) -> f64 {
        let agree = agreeing as f64 / slots as f64;
        let chance = 0.5f64.powi(self.config.bits as i32);
        ((agree - chance) / (1.0 - chance)).clamp(0.0, 1.0)
    }

    /// Agreeing slots of two packed signatures of the same layout, without
    /// unpacking them: a lookup compares up to 192 candidates. 4-bit slots
    /// (the default) are compared a byte (two slots) at a time.
    fn agreeing(&self, a: &[u8], b: &[u8]) -> usize {
        if self.config.bits == 4 {
            return a
                .iter()
                .zip(b)
                .map(|(x, y)| {
                    let d = x ^ y;
                    usize::from(d & 0x0F == 0) + usize::from(d >> 4 == 0)
                })
                .sum();
        }
        let (bits, mask) = (self.config.bits as usize, (1u32 << self.config.bits) - 1);
        let slot = |p: &[u8], i: usize| -> u32 {
            let (byte, shift) = (i * bits / 8, i * bits % 8);
            let mut v = 0u32;
            for k in 0..3 {
                v |= u32::from(p.get(byte + k).copied().unwrap_or(0)) << (8 * k);
            }
            (v >> shift) & mask
        };
        (0..self.config.permutations).filter(|&i| slot(a, i) == slot(b, i)).count()
    }

    fn encode(&self, r: &Record) -> Vec<u8> {
        let mut out = vec![RECORD_VERSION];
        put_varint(&mut out, r.root_back);
        put_varint(&mut out, r.shingles);
        out.extend_from_slice(&r.exact.to_le_bytes());
        out.extend(self.pack(&r.sig));
        out
    }

    /// Signature slots of `bits` bits each, packed little-endian: the
    /// stored form, which [`Self::agreeing`] compares as it is.
    fn pack(&self, sig: &[u16]) -> Vec<u8> {
        let mut out = Vec::with_capacity((sig.len() * self.config.bits as usize).div_ceil(8));
        let (mut acc, mut n) = (0u32, 0u32);
        for &v in sig {
            acc |= (v as u32) << n;
            n += self.config.bits;
            while n >= 8 {
                out.push(acc as u8);
                acc >>= 8;
                n -= 8;
            }
        }
        if n > 0 {
            out.push(acc as u8);
        }
        out
    }

    /// A stored record's fields and its packed signature; None if it was
    /// written with another layout or other options (then it cannot be
    /// compared and is skipped).
    fn decode_packed<'b>(&self, bytes: &'b [u8]) -> Option<(u64, u64, u32, &'b [u8])> {
        let (&version, mut rest) = bytes.split_first()?;
        if version != RECORD_VERSION {
            return None;
        }
        let root_back = take_varint(&mut rest)?;
        let shingles = take_varint(&mut rest)?;
        let exact = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
        rest = &rest[4..];
        if rest.len() != (self.config.permutations * self.config.bits as usize).div_ceil(8) {
            return None;
        }
        Some((root_back, shingles, exact, rest))
    }

    /// Reads a stored record (see [`Self::decode_packed`]).
    #[cfg(test)]
    fn decode(&self, bytes: &[u8]) -> Option<Record> {
        let (root_back, shingles, exact, rest) = self.decode_packed(bytes)?;
        let bits = self.config.bits;
        let mask = (1u32 << bits) - 1;
        let (mut acc, mut n, mut bytes) = (0u32, 0u32, rest.iter());
        let mut sig = Vec::with_capacity(self.config.permutations);
        for _ in 0..self.config.permutations {
            while n < bits {
                acc |= (*bytes.next()? as u32) << n;
                n += 8;
            }
            sig.push((acc & mask) as u16);
            acc >>= bits;
            n -= bits;
        }
        Some(Record { root_back, shingles, exact, sig })
    }

    /// Decides whether `doc` repeats an earlier document and records it.
    pub fn check(&self, doc: &mut Document, history: &mut dyn History) -> Result<(), HistoryError> {
        // The committer runs this again when a batch's commit is retried:
        // start from empty slots so a retry repeats, not adds.
        doc.duplicate = None;
        doc.related.clear();
        let words = word_hashes(&doc.text);
        if words.is_empty() {
            doc.warn("dedup", "no text to compare after cleaning");
            return Ok(());
        }
        let me = history.current();
        let exact = words.iter().fold(0u64, |h, &w| mix(h ^ w)) as u32;
        let (full_sig, size) = self.signature(&words);
        let mask = ((1u32 << self.config.bits) - 1) as u16;
        let record =
            Record { root_back: 0, shingles: size as u64, exact, sig: full_sig.iter().map(|&v| v as u16 & mask).collect() };
        let keys = self.band_keys(&full_sig);
        let my_sig = self.pack(&record.sig);
        let mut seen = BTreeSet::new();
        for &key in &keys {
            seen.extend(history.lookup(key, self.config.candidates_per_key)?);
        }
        seen.remove(&me);
        // Best match: exact beats near, then higher similarity, then the
        // earlier report.
        let mut best: Option<(bool, f64, DocNumber, u64)> = None; // exact?, similarity, report, its root distance
        let mut related = Vec::new();
        for cand in seen {
            let Some(bytes) = history.record(cand)? else { continue };
            let Some((other_root_back, other_shingles, other_exact, other_sig)) = self.decode_packed(&bytes) else {
                continue;
            };
            if other_exact == exact && other_shingles == record.shingles {
                if best.as_ref().is_none_or(|b| !b.0) {
                    best = Some((true, 1.0, cand, other_root_back));
                }
                continue;
            }
            if !self.comparable(record.shingles) || !self.comparable(other_shingles) {
                continue;
            }
            let sim = self.estimate(self.agreeing(&my_sig, other_sig), self.config.permutations);
            if sim >= self.config.threshold {
                if best.as_ref().is_none_or(|b| !b.0 && sim > b.1) {
                    best = Some((false, sim, cand, other_root_back));
                }
                continue;
            }
            // |A ∩ B| from the Jaccard estimate and the set sizes.
            let (a, b) = (record.shingles as f64, other_shingles as f64);
            let common = sim * (a + b) / (1.0 + sim);
            let this_in_other = (common / a.max(1.0)).min(1.0);
            let other_in_this = (common / b.max(1.0)).min(1.0);
            if this_in_other.max(other_in_this) >= self.config.related_containment {
                related.push((cand, this_in_other, other_in_this));
            }
        }
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        for (cand, this_in_other, other_in_this) in related {
            let Some((doc_id, path)) = history.describe(cand)? else { continue };
            doc.related.push(Related { doc_id, path, this_in_other: round(this_in_other), other_in_this: round(other_in_this) });
        }
        let mut record = record;
        if let Some((is_exact, sim, cand, root_back)) = best {
            // A copy of a copy points at the story's first report.
            let root = cand.saturating_sub(root_back);
            if let Some((doc_id, path)) = history.describe(root)? {
                let kind = if is_exact { "exact" } else { "near" };
                doc.duplicate = Some(Duplicate { doc_id, path, kind: kind.into(), similarity: round(sim) });
                record.root_back = me.saturating_sub(root);
            }
        }
        // Every document joins the index, duplicates too: a later copy of a
        // copy still finds its group through the newest members.
        for &key in &keys {
            history.file(key)?;
        }
        history.set_record(&self.encode(&record))?;
        Ok(())
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = bytes.split_first()?;
        *bytes = rest;
        v |= ((b & 0x7F) as u64) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Hashes of the lowercased words of letters and digits: punctuation,
/// quotes and line breaks do not hide a copy. One reused buffer, no
/// allocation per word.
pub fn word_hashes(text: &str) -> Vec<u64> {
    let mut out = Vec::with_capacity(text.len() / 6);
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            if c.is_ascii() {
                word.push(c.to_ascii_lowercase());
            } else {
                word.extend(c.to_lowercase());
            }
        } else if !word.is_empty() {
            out.push(xxh3_64(word.as_bytes()));
            word.clear();
        }
    }
    out
}

/// A 64-bit finaliser (splitmix64): spreads every input bit over the output.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl OrderedStage for DuplicateDetector {
    fn name(&self) -> &str {
        "dedup"
    }

    fn process(&self, doc: &mut Document, history: &mut dyn History) -> Result<(), StageError> {
        self.check(doc, history).map_err(|source| StageError::History { stage: self.name().into(), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gleaner_pipeline::MemoryHistory;

    fn article(seed: u64, paragraphs: u64) -> String {
        let words: Vec<&str> = "minister said government plans protest capital talks opposition election country week police report crowd leader law army border trade court judge vote party bank market price oil gas water city village school hospital doctor children family mother father house road bridge river storm fire rain winter summer night morning officials agency company workers union strike".split(' ').collect();
        (0..paragraphs)
            .map(|p| {
                (0..40u64)
                    .map(|i| words[(xxh3_64(&[seed, p, i].map(|x| x as u8)) % words.len() as u64) as usize])
                    .collect::<Vec<_>>()
                    .join(" ")
                    + "."
            })
            .collect::<Vec<_>>()
            .join("\n\n")
    }

    /// Runs the stage over texts in order and returns the annotated documents.
    fn run_docs(texts: &[(&str, String)]) -> Vec<Document> {
        let d = DuplicateDetector::new(DedupConfig::default()).unwrap();
        let mut h = MemoryHistory::default();
        texts
            .iter()
            .map(|(path, t)| {
                let mut doc = Document::from_text(path, t);
                h.begin(&doc.doc_id, path);
                d.check(&mut doc, &mut h).unwrap();
                doc
            })
            .collect()
    }

    fn run(texts: &[(&str, String)]) -> Vec<Option<Duplicate>> {
        run_docs(texts).into_iter().map(|d| d.duplicate).collect()
    }

    #[test]
    fn exact_copy_with_other_punctuation() {
        let a = article(1, 5);
        let b = a.replace('.', "!").to_uppercase();
        let r = run(&[("a.txt", a), ("b.txt", b)]);
        assert!(r[0].is_none());
        let d = r[1].as_ref().unwrap();
        assert_eq!((d.kind.as_str(), d.path.as_str()), ("exact", "a.txt"));
    }

    #[test]
    fn near_copy_with_trimmed_ending_points_at_the_first() {
        let a = article(2, 8);
        let trimmed: String = a.rsplit_once("\n\n").unwrap().0.to_string();
        let r = run(&[("a.txt", a.clone()), ("b.txt", format!("Intro line of an aggregator.\n\n{trimmed}")), ("c.txt", trimmed)]);
        assert_eq!(r[1].as_ref().unwrap().kind, "near");
        assert_eq!(r[1].as_ref().unwrap().path, "a.txt");
        assert_eq!(r[2].as_ref().unwrap().path, "a.txt", "a copy of a copy points at the first report");
    }

    fn run_related(texts: &[(&str, String)]) -> Vec<Vec<Related>> {
        run_docs(texts)
            .into_iter()
            .map(|d| {
                assert!(d.duplicate.is_none(), "{} is related, not a duplicate", d.source.path.display());
                d.related
            })
            .collect()
    }

    #[test]
    fn a_piece_quoting_half_of_another_is_related_not_duplicate() {
        let a = article(5, 8);
        let quoted: Vec<&str> = a.split("\n\n").take(5).collect();
        let b = format!("{}\n\n{}", article(50, 7), quoted.join("\n\n"));
        let r = run_related(&[("a.txt", a), ("b.txt", b)]);
        let link = r[1].first().expect("b is related to a");
        assert_eq!(link.path, "a.txt");
        assert!(link.other_in_this > 0.5 && link.this_in_other < 0.6, "{link:?}");
    }

    #[test]
    fn a_retried_check_repeats_its_decision() {
        let d = DuplicateDetector::new(DedupConfig::default()).unwrap();
        let mut h = MemoryHistory::default();
        let a = Document::from_text("a.txt", &article(6, 5));
        h.begin(&a.doc_id, "a.txt");
        d.check(&mut a.clone(), &mut h).unwrap();
        let mut b = Document::from_text("b.txt", &article(6, 5));
        h.begin(&b.doc_id, "b.txt");
        d.check(&mut b, &mut h).unwrap();
        let first = (b.duplicate.clone(), b.related.clone());
        d.check(&mut b, &mut h).unwrap();
        assert_eq!((b.duplicate, b.related), first);
    }

    #[test]
    fn different_articles_are_not_duplicates() {
        let r = run(&[("a.txt", article(3, 6)), ("b.txt", article(11, 6))]);
        assert!(r.iter().all(Option::is_none), "{r:?}");
        let rel = run_related(&[("a.txt", article(3, 6)), ("b.txt", article(11, 6))]);
        assert!(rel.iter().all(Vec::is_empty), "same vocabulary, different reports: not related");
    }

    #[test]
    fn short_reports_are_matched_only_when_exact() {
        let r = run(&[
            ("a.txt", "Police closed the bridge after the storm.".into()),
            ("b.txt", "Police closed the bridge after the storm!".into()),
            ("c.txt", "Police closed the bridge after the fire.".into()),
        ]);
        assert_eq!(r[1].as_ref().map(|d| (d.kind.as_str(), d.path.as_str())), Some(("exact", "a.txt")));
        assert!(r[2].is_none(), "a short text one word apart is another report");
    }

    #[test]
    fn the_record_of_a_report_stays_small() {
        let d = DuplicateDetector::new(DedupConfig::default()).unwrap();
        let words = word_hashes(&article(8, 12));
        let (sig, size) = d.signature(&words);
        let record =
            Record { root_back: 123_456, shingles: size as u64, exact: 7, sig: sig.iter().map(|&v| v as u16 & 15).collect() };
        let bytes = d.encode(&record);
        assert!(bytes.len() <= 75, "{} bytes", bytes.len());
        assert_eq!(d.decode(&bytes), Some(record));
        assert_eq!(d.band_keys(&sig).len(), 12);
    }

    #[test]
    fn a_story_reposted_many_times_still_points_at_its_first_report() {
        let a = article(9, 6);
        let mut texts: Vec<(String, String)> = vec![("first.txt".into(), a.clone())];
        for i in 0..60 {
            texts.push((format!("copy{i}.txt"), format!("Copy {i} from an aggregator.\n\n{a}")));
        }
        let texts: Vec<(&str, String)> = texts.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
        let r = run(&texts);
        assert!(r[1..].iter().all(|d| d.as_ref().is_some_and(|d| d.path == "first.txt")), "{:?}", r.last());
    }

    #[test]
    fn reports_outside_the_window_are_not_compared() {
        let d = DuplicateDetector::new(DedupConfig::default()).unwrap();
        let mut h = MemoryHistory::default();
        let text = article(10, 5);
        let mut a = Document::from_text("a.txt", &text);
        let first = h.begin(&a.doc_id, "a.txt");
        d.check(&mut a, &mut h).unwrap();
        h.forget_through(first);
        let mut b = Document::from_text("b.txt", &text);
        h.begin(&b.doc_id, "b.txt");
        d.check(&mut b, &mut h).unwrap();
        assert!(b.duplicate.is_none());
    }

    #[test]
    fn the_compact_signature_estimates_similarity_closely() {
        let d = DuplicateDetector::new(DedupConfig::default()).unwrap();
        let mask = |sig: Vec<u32>| sig.into_iter().map(|v| v as u16 & 15).collect::<Vec<_>>();
        // Two texts sharing `shared` of 10 paragraphs, so the true Jaccard
        // similarity of their shingles is about shared / (20 - shared).
        for shared in [2u64, 5, 8] {
            let mut errors = Vec::new();
            for seed in 0..20u64 {
                let common: Vec<String> = (0..shared).map(|p| article(1000 + seed * 10 + p, 1)).collect();
                let own = |k: u64| (0..10 - shared).map(|p| article(5000 + seed * 100 + k * 10 + p, 1)).collect::<Vec<_>>();
                let a = [common.clone(), own(1)].concat().join("\n\n");
                let b = [own(2), common].concat().join("\n\n");
                let (sa, na) = d.signature(&word_hashes(&a));
                let (sb, nb) = d.signature(&word_hashes(&b));
                let truth = {
                    let shingles = |t: &str| {
                        let w = word_hashes(t);
                        w.windows(5).map(|x| x.to_vec()).collect::<std::collections::HashSet<_>>()
                    };
                    let (x, y) = (shingles(&a), shingles(&b));
                    assert_eq!((x.len(), y.len()), (na, nb));
                    x.intersection(&y).count() as f64 / x.union(&y).count() as f64
                };
                errors.push(d.similarity(&mask(sa), &mask(sb)) - truth);
            }
            let bias = errors.iter().sum::<f64>() / errors.len() as f64;
            let worst = errors.iter().fold(0.0f64, |m, e| m.max(e.abs()));
            assert!(bias.abs() < 0.04 && worst < 0.16, "shared {shared}: bias {bias:.3}, worst {worst:.3}");
        }
    }

    #[test]
    fn packed_signatures_compare_like_unpacked_ones() {
        for bits in [4, 5, 3] {
            let d = DuplicateDetector::new(DedupConfig { bits, ..DedupConfig::default() }).unwrap();
            let mask = ((1u32 << bits) - 1) as u16;
            let (sa, _) = d.signature(&word_hashes(&article(1, 6)));
            let (sb, _) = d.signature(&word_hashes(&(article(1, 3) + "\n\n" + &article(2, 3))));
            let rec = |sig: &[u32]| Record {
                root_back: 0,
                shingles: 100,
                exact: 0,
                sig: sig.iter().map(|&v| v as u16 & mask).collect(),
            };
            let (ra, rb) = (rec(&sa), rec(&sb));
            let (ea, eb) = (d.encode(&ra), d.encode(&rb));
            let agree = d.agreeing(d.decode_packed(&ea).unwrap().3, d.decode_packed(&eb).unwrap().3);
            assert_eq!(agree, ra.sig.iter().zip(&rb.sig).filter(|(x, y)| x == y).count(), "bits {bits}");
            assert!(agree > 20 && agree < 128, "a partial overlap: {agree}");
        }
    }
}
