//! `dedup`: the [`DuplicateDetector`]. Reports a document that repeats an
//! earlier one: exact (same normalised cleaned text) or near (MinHash over
//! word shingles, candidates found through an LSH index).
//!
//! An ordered stage: it runs in the committer, in arrival order, so "earlier"
//! is well defined. Its index lives in the engine's [`History`] (SQLite in
//! the daemon), written in the same transaction as the document.

use gleaner_pipeline::document::{Duplicate, Related};
use gleaner_pipeline::{parse_options, BuiltStage, Document, History, OrderedStage, StageError};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// Options of the `dedup` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DedupConfig {
    /// Words per shingle.
    pub shingle_words: usize,
    /// MinHash signature length; must equal `bands * rows`.
    pub permutations: usize,
    /// LSH bands; with `rows` rows each, pairs above about
    /// (1/bands)^(1/rows) similarity become candidates.
    pub bands: usize,
    /// Rows per band.
    pub rows: usize,
    /// Estimated Jaccard similarity from which a candidate is a near duplicate.
    pub threshold: f64,
    /// Documents with fewer words are only checked for exact copies.
    pub min_words: usize,
    /// A candidate below `threshold` that shares at least this share of
    /// either document's shingles is linked as `related` (partial overlap).
    pub related_containment: f64,
}

impl Default for DedupConfig {
    fn default() -> Self {
        // 42 bands x 3 rows: a pair at 0.5 similarity becomes a candidate
        // with probability 1 - (1 - 0.5^3)^42 = 0.996 (32 x 4 gave 0.87 and
        // missed a dev-set pair); the signature comparison then decides.
        DedupConfig {
            shingle_words: 5,
            permutations: 126,
            bands: 42,
            rows: 3,
            threshold: 0.45,
            min_words: 30,
            related_containment: 0.5,
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
    /// Multiply-shift hash parameters, one (a, b) per permutation.
    params: Vec<(u64, u64)>,
}

const NS_EXACT: &str = "dedup.exact";
const NS_BAND: &str = "dedup.band";
const NS_SIG: &str = "dedup.sig";
const NS_ROOT: &str = "dedup.root";

impl DuplicateDetector {
    /// Checks the options and derives the hash family (fixed seed: signatures
    /// persist across restarts and must stay comparable).
    pub fn new(config: DedupConfig) -> Result<DuplicateDetector, String> {
        if config.bands * config.rows != config.permutations {
            return Err(format!(
                "bands ({}) x rows ({}) must equal permutations ({})",
                config.bands, config.rows, config.permutations
            ));
        }
        if !(0.0..=1.0).contains(&config.threshold) || config.shingle_words == 0 {
            return Err("threshold must be in [0, 1] and shingle_words at least 1".into());
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let params = (0..config.permutations).map(|_| (next() | 1, next())).collect();
        Ok(DuplicateDetector { config, params })
    }

    /// MinHash signature of a word list, and its number of distinct shingles.
    pub fn signature(&self, words: &[String]) -> (Vec<u32>, usize) {
        let k = self.config.shingle_words.min(words.len().max(1));
        let mut shingles: Vec<u64> = words.windows(k).map(|w| xxh3_64(w.join(" ").as_bytes())).collect();
        shingles.sort_unstable();
        shingles.dedup();
        let mut sig = vec![u32::MAX; self.params.len()];
        for &x in &shingles {
            for (slot, &(a, b)) in sig.iter_mut().zip(&self.params) {
                *slot = (*slot).min((a.wrapping_mul(x).wrapping_add(b) >> 32) as u32);
            }
        }
        (sig, shingles.len())
    }

    fn root_of(&self, doc_id: &[u8], history: &mut dyn History) -> Result<Vec<u8>, gleaner_pipeline::HistoryError> {
        Ok(history.get(NS_ROOT, doc_id)?.into_iter().next().unwrap_or_else(|| doc_id.to_vec()))
    }

    /// Decides whether `doc` repeats an earlier document and records it.
    pub fn check(&self, doc: &mut Document, history: &mut dyn History) -> Result<(), gleaner_pipeline::HistoryError> {
        // The committer runs this again when a batch's commit is retried:
        // start from empty slots so a retry repeats, not adds.
        doc.duplicate = None;
        doc.related.clear();
        let words = normalised_words(&doc.text);
        if words.is_empty() {
            doc.warn("dedup", "no text to compare after cleaning");
            return Ok(());
        }
        let id = doc.doc_id.as_bytes().to_vec();
        let exact_key = Sha256::digest(words.join(" ").as_bytes())[..16].to_vec();
        let mut found: Option<(Vec<u8>, String, f64)> = None;
        if let Some(first) = history.get(NS_EXACT, &exact_key)?.into_iter().next() {
            found = Some((first, "exact".into(), 1.0));
        }
        let sig = (words.len() >= self.config.min_words).then(|| self.signature(&words));
        if found.is_none() {}
        let mut related = Vec::new();
        if let Some((sig, size)) = &sig {
            let mut seen = BTreeSet::new();
            let mut best: Option<(Vec<u8>, f64)> = None;
            for key in self.band_keys(sig) {
                for cand in history.get(NS_BAND, &key)? {
                    if !seen.insert(cand.clone()) {
                        continue;
                    }
                    let Some(other) = history.get(NS_SIG, &cand)?.into_iter().next() else { continue };
                    let (other_sig, other_size) = decode_sig(&other);
                    let sim = similarity(sig, &other_sig);
                    if sim >= self.config.threshold {
                        if best.as_ref().is_none_or(|(_, s)| sim > *s) {
                            best = Some((cand, sim));
                        }
                        continue;
                    }
                    // |A ∩ B| from the Jaccard estimate and the set sizes.
                    let common = sim * (*size + other_size) as f64 / (1.0 + sim);
                    let this_in_other = (common / (*size).max(1) as f64).min(1.0);
                    let other_in_this = (common / other_size.max(1) as f64).min(1.0);
                    if this_in_other.max(other_in_this) >= self.config.related_containment {
                        related.push((cand, this_in_other, other_in_this));
                    }
                }
            }
            if found.is_none() {
                found = best.map(|(c, s)| (c, "near".into(), s));
            }
        }
        for (cand, this_in_other, other_in_this) in related {
            let other = String::from_utf8_lossy(&cand).into_owned();
            let path = history.path_of(&other)?.unwrap_or_default();
            let round = |x: f64| (x * 1000.0).round() / 1000.0;
            doc.related.push(Related {
                doc_id: other,
                path,
                this_in_other: round(this_in_other),
                other_in_this: round(other_in_this),
            });
        }
        let root = match &found {
            Some((cand, kind, sim)) => {
                let root = self.root_of(cand, history)?;
                let root_id = String::from_utf8_lossy(&root).into_owned();
                let path = history.path_of(&root_id)?.unwrap_or_default();
                doc.duplicate =
                    Some(Duplicate { doc_id: root_id, path, kind: kind.clone(), similarity: (sim * 1000.0).round() / 1000.0 });
                root
            }
            None => id.clone(),
        };
        // Every document joins the index, duplicates too: a later copy of a
        // copy still finds its group, and points at the group's first report.
        history.put(NS_ROOT, &id, &root, &doc.doc_id)?;
        history.put(NS_EXACT, &exact_key, &id, &doc.doc_id)?;
        if let Some((sig, size)) = &sig {
            for key in self.band_keys(sig) {
                history.put(NS_BAND, &key, &id, &doc.doc_id)?;
            }
            history.put(NS_SIG, &id, &encode_sig(sig, *size), &doc.doc_id)?;
        }
        Ok(())
    }

    fn band_keys(&self, sig: &[u32]) -> Vec<Vec<u8>> {
        sig.chunks(self.config.rows)
            .enumerate()
            .map(|(band, rows)| {
                let bytes: Vec<u8> = rows.iter().flat_map(|r| r.to_le_bytes()).collect();
                let mut key = vec![band as u8];
                key.extend_from_slice(&xxh3_64(&bytes).to_le_bytes());
                key
            })
            .collect()
    }
}

/// Lowercased words of letters and digits: punctuation, quotes and line
/// breaks do not hide a copy.
pub fn normalised_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

fn similarity(a: &[u32], b: &[u32]) -> f64 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// Stored form: the shingle count (u32 LE), then the signature.
fn encode_sig(sig: &[u32], size: usize) -> Vec<u8> {
    let mut out = (size.min(u32::MAX as usize) as u32).to_le_bytes().to_vec();
    out.extend(sig.iter().flat_map(|v| v.to_le_bytes()));
    out
}

fn decode_sig(bytes: &[u8]) -> (Vec<u32>, usize) {
    let mut values = bytes.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    let size = values.next().unwrap_or(0) as usize;
    (values.collect(), size)
}

impl OrderedStage for DuplicateDetector {
    fn name(&self) -> &str {
        "dedup"
    }

    fn process(&self, doc: &mut Document, history: &mut dyn History) -> Result<(), StageError> {
        self.check(doc, history).map_err(|source| StageError::History { stage: "dedup".into(), source })
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
                h.record_path(&doc.doc_id, path);
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
        h.record_path(&a.doc_id, "a.txt");
        d.check(&mut a.clone(), &mut h).unwrap();
        let mut b = Document::from_text("b.txt", &article(6, 5));
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
}
