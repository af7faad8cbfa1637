//! The in-memory side of ordered stages' history: keys and records.
//!
//! On disk a document's keys are one row, appended in arrival order
//! (`history_doc_keys`), and so is its record (`history_records`): writing
//! them touches the same few pages at the end of each table however large
//! the archive is. Reading needs random access (key -> documents, and the
//! records of the candidates found), which this index serves from memory,
//! so neither depends on the archive's size or the page cache. Keys:
//!
//! * `sorted`: (key, doc) pairs packed in a `u64`, sorted; a lookup is one
//!   binary search, about two dozen probes at twenty million pairs;
//! * `recent`: pairs committed since the last merge, in a hash map; merged
//!   into `sorted` when it grows past an eighth of it (amortised O(1));
//! * `pending`: pairs of the transaction being written, visible to later
//!   documents of the same batch, dropped if the transaction fails.
//!
//! Records (dedup: a 72-byte signature) sit in one arena per stage, in
//! document order, found by binary search.
//!
//! Memory: eight bytes per key pair and the record plus twelve bytes per
//! document; with dedup's 12 keys and recurring_blocks' up to 8, about
//! 250 bytes per report, 250 MB at a million reports, which
//! `data.history_days` bounds.

use std::collections::HashMap;

/// A document's number as the index stores it.
pub type Doc = u32;

/// Every stage's keys.
#[derive(Debug, Default)]
pub struct HistoryIndex {
    stages: HashMap<i64, StageKeys>,
    /// Filed in the open transaction: (stage, key) -> docs, oldest first.
    pending: HashMap<(i64, u32), Vec<Doc>>,
    /// The same, in filing order.
    pending_order: Vec<(i64, u32, Doc)>,
    /// Records set in the open transaction.
    pending_records: Vec<(i64, Doc, Vec<u8>)>,
}

#[derive(Debug, Default)]
struct StageKeys {
    sorted: Vec<u64>,
    recent: HashMap<u32, Vec<Doc>>,
    recent_len: usize,
    records: Records,
}

/// One stage's records: (doc, end offset in `bytes`), docs increasing.
#[derive(Debug, Default)]
struct Records {
    index: Vec<(Doc, u32)>,
    bytes: Vec<u8>,
}

impl Records {
    fn get(&self, doc: Doc) -> Option<&[u8]> {
        let i = self.index.binary_search_by_key(&doc, |e| e.0).ok()?;
        let start = if i == 0 { 0 } else { self.index[i - 1].1 as usize };
        Some(&self.bytes[start..self.index[i].1 as usize])
    }

    /// Adds a record; documents come in increasing order (a replaced
    /// record of the last document overwrites it).
    fn push(&mut self, doc: Doc, value: &[u8]) {
        if self.index.last().is_some_and(|e| e.0 >= doc) {
            // Out of order (a stage set a record twice): rebuild in order.
            let mut all: Vec<(Doc, Vec<u8>)> =
                self.index.iter().map(|e| (e.0, self.get(e.0).unwrap_or_default().to_vec())).collect();
            all.retain(|e| e.0 != doc);
            all.push((doc, value.to_vec()));
            all.sort_by_key(|e| e.0);
            *self = Records::default();
            for (d, v) in all {
                self.push(d, &v);
            }
            return;
        }
        self.bytes.extend_from_slice(value);
        self.index.push((doc, self.bytes.len() as u32));
    }

    fn forget_through(&mut self, last: Doc) {
        let cut = self.index.partition_point(|e| e.0 <= last);
        if cut == 0 {
            return;
        }
        let start = self.index[cut - 1].1;
        self.bytes.drain(..start as usize);
        self.index.drain(..cut);
        for e in &mut self.index {
            e.1 -= start;
        }
    }
}

/// `recent` is merged into `sorted` past this many pairs, or an eighth of
/// `sorted`, whichever is larger.
const MIN_MERGE: usize = 1 << 18;

/// Sorts packed pairs: two stable counting passes over the key's 16-bit
/// halves (the pairs arrive in document order, so each key's documents stay
/// in order), a fifth of the time of a comparison sort at millions of pairs,
/// which is most of start-up. Out-of-order input is finished by a sort.
fn radix_sort(v: &mut Vec<u64>) {
    if v.len() < 1 << 16 {
        v.sort_unstable();
        return;
    }
    let mut tmp = vec![0u64; v.len()];
    for shift in [32u32, 48] {
        let mut count = vec![0usize; 1 << 16];
        for p in v.iter() {
            count[((p >> shift) & 0xFFFF) as usize] += 1;
        }
        let mut at = 0;
        for c in count.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        for p in v.iter() {
            let d = ((p >> shift) & 0xFFFF) as usize;
            tmp[count[d]] = *p;
            count[d] += 1;
        }
        std::mem::swap(v, &mut tmp);
    }
    if !v.is_sorted() {
        v.sort_unstable();
    }
}

fn pack(key: u32, doc: Doc) -> u64 {
    (u64::from(key) << 32) | u64::from(doc)
}

impl StageKeys {
    fn lookup(&self, key: u32, limit: usize, out: &mut Vec<Doc>) {
        if let Some(docs) = self.recent.get(&key) {
            out.extend(docs.iter().rev().take(limit - out.len().min(limit)));
        }
        // The pairs of `key` end where the pairs of `key + 1` begin.
        let mut i = self.sorted.partition_point(|p| *p < pack(key, Doc::MAX).saturating_add(1));
        while i > 0 && out.len() < limit && (self.sorted[i - 1] >> 32) as u32 == key {
            out.push(self.sorted[i - 1] as Doc);
            i -= 1;
        }
    }

    fn insert(&mut self, key: u32, doc: Doc) {
        self.recent.entry(key).or_default().push(doc);
        self.recent_len += 1;
        if self.recent_len > MIN_MERGE.max(self.sorted.len() / 8) {
            self.merge();
        }
    }

    fn merge(&mut self) {
        let mut add: Vec<u64> = self.recent.drain().flat_map(|(k, docs)| docs.into_iter().map(move |d| pack(k, d))).collect();
        add.sort_unstable();
        let old = std::mem::take(&mut self.sorted);
        let mut merged = Vec::with_capacity(old.len() + add.len());
        let (mut a, mut b) = (old.into_iter().peekable(), add.into_iter().peekable());
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x <= y => a.next(),
                (Some(_), Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            merged.extend(next);
        }
        self.sorted = merged;
        self.recent_len = 0;
    }
}

impl HistoryIndex {
    /// An index of (stage, doc, key) triples in any order, and of
    /// (stage, doc, record) in increasing doc order per stage.
    pub fn build(
        triples: impl IntoIterator<Item = (i64, Doc, u32)>,
        records: impl IntoIterator<Item = (i64, Doc, Vec<u8>)>,
    ) -> HistoryIndex {
        let mut index = HistoryIndex::default();
        for (stage, doc, key) in triples {
            index.load_keys(stage, doc, [key]);
        }
        for (stage, doc, value) in records {
            index.load_record(stage, doc, &value);
        }
        index.finish_load();
        index
    }

    /// Loading, step 1: a document's keys, documents in increasing order.
    pub fn load_keys(&mut self, stage: i64, doc: Doc, keys: impl IntoIterator<Item = u32>) {
        let sorted = &mut self.stages.entry(stage).or_default().sorted;
        sorted.extend(keys.into_iter().map(|k| pack(k, doc)));
    }

    /// Loading, step 2: a document's record, documents in increasing order.
    pub fn load_record(&mut self, stage: i64, doc: Doc, value: &[u8]) {
        self.stages.entry(stage).or_default().records.push(doc, value);
    }

    /// Loading, last step: orders the keys.
    pub fn finish_load(&mut self) {
        for keys in self.stages.values_mut() {
            radix_sort(&mut keys.sorted);
            keys.sorted.dedup();
        }
    }

    /// Documents filed under `key` by `stage`, newest first, at most `limit`.
    pub fn lookup(&self, stage: i64, key: u32, limit: usize) -> Vec<Doc> {
        let mut out = Vec::new();
        if let Some(docs) = self.pending.get(&(stage, key)) {
            out.extend(docs.iter().rev().take(limit));
        }
        if out.len() < limit {
            if let Some(keys) = self.stages.get(&stage) {
                keys.lookup(key, limit, &mut out);
            }
        }
        out
    }

    /// The record of `doc` set by `stage`, if it is still in the history.
    pub fn record(&self, stage: i64, doc: Doc) -> Option<&[u8]> {
        if let Some((_, _, v)) = self.pending_records.iter().rev().find(|(s, d, _)| *s == stage && *d == doc) {
            return Some(v);
        }
        self.stages.get(&stage)?.records.get(doc)
    }

    /// Sets the record of `doc` in the open transaction.
    pub fn add_pending_record(&mut self, stage: i64, doc: Doc, value: Vec<u8>) {
        self.pending_records.push((stage, doc, value));
    }

    /// Files `doc` under `keys` in the open transaction.
    pub fn add_pending(&mut self, stage: i64, doc: Doc, keys: &[u32]) {
        for key in keys {
            self.pending.entry((stage, *key)).or_default().push(doc);
            self.pending_order.push((stage, *key, doc));
        }
    }

    /// The open transaction committed: its pairs become permanent.
    pub fn commit(&mut self) {
        self.pending.clear();
        for (stage, key, doc) in std::mem::take(&mut self.pending_order) {
            self.stages.entry(stage).or_default().insert(key, doc);
        }
        for (stage, doc, value) in std::mem::take(&mut self.pending_records) {
            self.stages.entry(stage).or_default().records.push(doc, &value);
        }
    }

    /// The open transaction failed: forget its pairs.
    pub fn rollback(&mut self) {
        self.pending.clear();
        self.pending_order.clear();
        self.pending_records.clear();
    }

    /// Forgets documents up to and including `last` (the history window).
    pub fn forget_through(&mut self, last: Doc) {
        for keys in self.stages.values_mut() {
            keys.sorted.retain(|p| (*p as Doc) > last);
            for docs in keys.recent.values_mut() {
                docs.retain(|d| *d > last);
            }
            keys.recent.retain(|_, docs| !docs.is_empty());
            keys.recent_len = keys.recent.values().map(Vec::len).sum();
            keys.records.forget_through(last);
        }
    }

    /// Pairs held, for statistics.
    pub fn len(&self) -> usize {
        self.stages.values().map(|k| k.sorted.len() + k.recent_len).sum::<usize>()
            + self.pending.values().map(Vec::len).sum::<usize>()
    }

    /// True when no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_newest_first_across_sorted_recent_and_pending() {
        let mut index = HistoryIndex::build([(1, 1, 7), (1, 3, 7), (1, 2, 9), (2, 4, 7)], []);
        index.add_pending(1, 5, &[7, 8]);
        index.commit();
        index.add_pending(1, 6, &[7]);
        assert_eq!(index.lookup(1, 7, 10), vec![6, 5, 3, 1]);
        assert_eq!(index.lookup(1, 7, 2), vec![6, 5]);
        assert_eq!(index.lookup(2, 7, 10), vec![4], "stages are apart");
        assert_eq!(index.lookup(1, 10, 10), Vec::<Doc>::new());
        index.rollback();
        assert_eq!(index.lookup(1, 7, 10), vec![5, 3, 1], "a failed transaction leaves nothing");
        index.forget_through(3);
        assert_eq!(index.lookup(1, 7, 10), vec![5]);
        assert_eq!(index.lookup(1, 9, 10), Vec::<Doc>::new());
    }

    #[test]
    fn merging_keeps_every_pair_and_the_order() {
        let mut index = HistoryIndex::default();
        let n = MIN_MERGE as u32;
        for doc in 1..=n {
            index.add_pending(1, doc, &[doc % 1000, u32::MAX - doc % 7]);
            if doc % 64 == 0 {
                index.commit();
            }
        }
        index.commit();
        assert_eq!(index.len(), 2 * n as usize);
        let expected: Vec<Doc> = (1..=n).rev().filter(|d| d % 1000 == 999).take(5).collect();
        assert_eq!(index.lookup(1, 999, 5), expected);
        assert!(index.lookup(1, u32::MAX, usize::MAX).windows(2).all(|w| w[0] > w[1]));
        assert_eq!(index.lookup(1, u32::MAX, usize::MAX).len(), (n / 7) as usize);
    }

    #[test]
    fn records_are_found_until_the_window_passes_them() {
        let mut index = HistoryIndex::build([], [(1, 1, b"one".to_vec()), (1, 2, b"two".to_vec()), (2, 2, b"other".to_vec())]);
        index.add_pending_record(1, 3, b"three".to_vec());
        assert_eq!(index.record(1, 3), Some(&b"three"[..]), "visible inside its transaction");
        index.commit();
        assert_eq!(index.record(1, 2), Some(&b"two"[..]));
        assert_eq!(index.record(2, 2), Some(&b"other"[..]));
        index.add_pending_record(1, 4, b"four".to_vec());
        index.rollback();
        assert_eq!(index.record(1, 4), None);
        index.forget_through(2);
        assert_eq!((index.record(1, 1), index.record(1, 2)), (None, None));
        assert_eq!(index.record(1, 3), Some(&b"three"[..]));
        index.add_pending_record(1, 3, b"again".to_vec());
        index.commit();
        assert_eq!(index.record(1, 3), Some(&b"again"[..]), "a record set twice keeps the last value");
    }

    #[test]
    fn radix_sort_orders_like_a_comparison_sort() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        // Document order, random keys: what loading produces.
        let mut v: Vec<u64> = (0..200_000u32).map(|doc| pack(((next() >> 40) as u32).wrapping_mul(977), doc / 12)).collect();
        let mut expected = v.clone();
        expected.sort_unstable();
        radix_sort(&mut v);
        assert_eq!(v, expected);
    }
}
