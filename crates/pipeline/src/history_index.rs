//! The in-memory side of ordered stages' history: keys and records.
//!
//! On disk a document's keys are one row, appended in arrival order
//! (`history_doc_keys`), and so is its record (`history_records`): writing
//! them touches the same few pages at the end of each table however large
//! the archive is. Reading needs random access (key -> documents, and the
//! records of the candidates found), which this index serves from memory,
//! so neither depends on the archive's size or the page cache. Keys:
//!
//! * `sorted`: (key, doc) pairs packed in a `u64`, sorted, with a directory
//!   of where each range of keys starts, so a lookup touches one or two
//!   cache lines whatever the size;
//! * `recent`: pairs committed since the last merge, in a hash map; merged
//!   into `sorted` when it grows past an eighth of it (amortised O(1));
//! * `pending`: pairs of the transaction being written, visible to later
//!   documents of the same batch, dropped if the transaction fails.
//!
//! Records (dedup: a 72-byte signature) sit in one arena per stage with a
//! slot per document number: one array read finds one.
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
    /// By stage id; a handful of stages, so a list beats hashing the id
    /// for each of millions of loaded rows.
    stages: Vec<(i64, StageKeys)>,
    /// Filed in the open transaction: (stage, key) -> docs, oldest first.
    pending: HashMap<(i64, u32), Vec<Doc>>,
    /// Records set in the open transaction.
    pending_records: Vec<(i64, Doc, Vec<u8>)>,
}

#[derive(Debug, Default)]
struct StageKeys {
    sorted: Vec<u64>,
    /// Where in `sorted` each range of keys (by their top `dir_bits` bits)
    /// starts: a lookup reads one or two cache lines of `sorted` instead of
    /// binary-searching all of it (two dozen cache misses at millions of pairs).
    dir: Vec<u32>,
    dir_bits: u32,
    recent: HashMap<u32, Vec<Doc>>,
    recent_len: usize,
    records: Records,
}

/// One stage's records, a slot per document number from `first` (seq
/// numbers are dense, so a record is found with one array read): slot i
/// holds the end offset in `bytes` of document `first + i`'s record. A slot
/// ending where the one before ends is a document without a record (an
/// event that was not a document, or an empty record).
#[derive(Debug, Default)]
struct Records {
    first: Doc,
    ends: Vec<usize>,
    bytes: Vec<u8>,
}

impl Records {
    fn get(&self, doc: Doc) -> Option<&[u8]> {
        let i = doc.checked_sub(self.first)? as usize;
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        (end > start).then(|| &self.bytes[start..end])
    }

    /// Adds a record; documents come in increasing order (a record set again
    /// for an earlier document rebuilds the arena).
    fn push(&mut self, doc: Doc, value: &[u8]) {
        if self.ends.is_empty() {
            self.first = doc;
        }
        let next = self.first as u64 + self.ends.len() as u64;
        if u64::from(doc) < next {
            let mut all: Vec<(Doc, Vec<u8>)> = (0..self.ends.len())
                .filter_map(|i| {
                    let d = self.first + i as Doc;
                    self.get(d).map(|v| (d, v.to_vec()))
                })
                .filter(|(d, _)| *d != doc)
                .collect();
            all.push((doc, value.to_vec()));
            all.sort_by_key(|e| e.0);
            *self = Records::default();
            for (d, v) in all {
                self.push(d, &v);
            }
            return;
        }
        for _ in next..u64::from(doc) {
            self.ends.push(self.bytes.len());
        }
        self.bytes.extend_from_slice(value);
        self.ends.push(self.bytes.len());
    }

    fn forget_through(&mut self, last: Doc) {
        let Some(span) = last.checked_sub(self.first) else { return };
        let cut = (span as usize + 1).min(self.ends.len());
        if cut == 0 {
            return;
        }
        let start = self.ends[cut - 1];
        self.bytes.drain(..start);
        self.ends.drain(..cut);
        for e in &mut self.ends {
            *e -= start;
        }
        self.first += cut as Doc;
    }
}

/// `recent` is merged into `sorted` past this many pairs, or an eighth of
/// `sorted`, whichever is larger.
const MIN_MERGE: usize = 1 << 18;

/// Sorts packed pairs, which is most of start-up at millions of pairs: one
/// counting pass scatters them into 4,096 buckets by the key's top bits,
/// then the buckets (a few thousand pairs each, in cache) are sorted on two
/// threads. Three LSD radix passes were no faster on this memory-bound job;
/// a plain comparison sort was three times slower.
fn radix_sort(v: &mut Vec<u64>) {
    const BITS: u32 = 12;
    if v.len() < 1 << 16 {
        v.sort_unstable();
        return;
    }
    let bucket = |p: &u64| (p >> (64 - BITS)) as usize;
    let mut starts = vec![0usize; (1 << BITS) + 1];
    for p in v.iter() {
        starts[bucket(p) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut out = vec![0u64; v.len()];
    let mut at = starts.clone();
    for p in v.iter() {
        let b = bucket(p);
        out[at[b]] = *p;
        at[b] += 1;
    }
    // Two halves of the buckets, one per thread.
    let middle = starts[starts.partition_point(|s| *s < v.len() / 2)].min(v.len());
    let (low, high) = out.split_at_mut(middle);
    let sort_buckets = |part: &mut [u64], offset: usize| {
        for w in starts.windows(2) {
            let (s, e) = (w[0].max(offset), w[1].min(offset + part.len()));
            if s < e {
                part[s - offset..e - offset].sort_unstable();
            }
        }
    };
    std::thread::scope(|scope| {
        scope.spawn(|| sort_buckets(high, middle));
        sort_buckets(low, 0);
    });
    *v = out;
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
        let (lo, hi) = if self.dir.is_empty() {
            (0, self.sorted.len())
        } else {
            let b = (key >> (32 - self.dir_bits)) as usize;
            (self.dir[b] as usize, self.dir[b + 1] as usize)
        };
        let end = pack(key, Doc::MAX).saturating_add(1);
        let mut i = lo + self.sorted[lo..hi].partition_point(|p| *p < end);
        while i > 0 && out.len() < limit && (self.sorted[i - 1] >> 32) as u32 == key {
            out.push(self.sorted[i - 1] as Doc);
            i -= 1;
        }
    }

    fn insert(&mut self, key: u32, docs: Vec<Doc>) {
        self.recent_len += docs.len();
        self.recent.entry(key).or_default().extend(docs);
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
        self.index_sorted();
    }

    /// Rebuilds `dir` for `sorted`: about eight pairs per range.
    fn index_sorted(&mut self) {
        if self.sorted.len() < 64 || self.sorted.len() >= u32::MAX as usize {
            self.dir.clear();
            return;
        }
        self.dir_bits = ((self.sorted.len() / 8).ilog2()).clamp(4, 24);
        let ranges = 1usize << self.dir_bits;
        self.dir.clear();
        self.dir.reserve(ranges + 1);
        let mut at = 0usize;
        for b in 0..ranges {
            while at < self.sorted.len() && ((self.sorted[at] >> 32) as u32 >> (32 - self.dir_bits)) < b as u32 {
                at += 1;
            }
            self.dir.push(at as u32);
        }
        self.dir.push(self.sorted.len() as u32);
    }
}

impl HistoryIndex {
    fn stage(&self, id: i64) -> Option<&StageKeys> {
        self.stages.iter().find(|(s, _)| *s == id).map(|(_, k)| k)
    }

    fn stage_mut(&mut self, id: i64) -> &mut StageKeys {
        let at = match self.stages.iter().position(|(s, _)| *s == id) {
            Some(at) => at,
            None => {
                self.stages.push((id, StageKeys::default()));
                self.stages.len() - 1
            }
        };
        &mut self.stages[at].1
    }

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
        let sorted = &mut self.stage_mut(stage).sorted;
        sorted.extend(keys.into_iter().map(|k| pack(k, doc)));
    }

    /// Loading, step 2: a document's record, documents in increasing order.
    pub fn load_record(&mut self, stage: i64, doc: Doc, value: &[u8]) {
        self.stage_mut(stage).records.push(doc, value);
    }

    /// Loading: the records another index loaded (on another thread).
    pub fn take_records(&mut self, other: HistoryIndex) {
        for (stage, keys) in other.stages {
            self.stage_mut(stage).records = keys.records;
        }
    }

    /// Loading, last step: orders the keys.
    pub fn finish_load(&mut self) {
        for (_, keys) in self.stages.iter_mut() {
            radix_sort(&mut keys.sorted);
            keys.sorted.dedup();
            keys.index_sorted();
        }
    }

    /// Documents filed under `key` by `stage`, newest first, at most `limit`.
    pub fn lookup(&self, stage: i64, key: u32, limit: usize) -> Vec<Doc> {
        let mut out = Vec::new();
        if let Some(docs) = self.pending.get(&(stage, key)) {
            out.extend(docs.iter().rev().take(limit));
        }
        if out.len() < limit {
            if let Some(keys) = self.stage(stage) {
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
        self.stage(stage)?.records.get(doc)
    }

    /// Sets the record of `doc` in the open transaction.
    pub fn add_pending_record(&mut self, stage: i64, doc: Doc, value: Vec<u8>) {
        self.pending_records.push((stage, doc, value));
    }

    /// Files `doc` under `keys` in the open transaction.
    pub fn add_pending(&mut self, stage: i64, doc: Doc, keys: &[u32]) {
        for key in keys {
            self.pending.entry((stage, *key)).or_default().push(doc);
        }
    }

    /// The open transaction committed: its pairs become permanent.
    pub fn commit(&mut self) {
        // Each key's documents are newer than those it holds already, and
        // in order among themselves: appending keeps every list oldest first.
        for ((stage, key), docs) in std::mem::take(&mut self.pending) {
            self.stage_mut(stage).insert(key, docs);
        }
        for (stage, doc, value) in std::mem::take(&mut self.pending_records) {
            self.stage_mut(stage).records.push(doc, &value);
        }
    }

    /// The open transaction failed: forget its pairs.
    pub fn rollback(&mut self) {
        self.pending.clear();
        self.pending_records.clear();
    }

    /// Forgets documents up to and including `last` (the history window).
    pub fn forget_through(&mut self, last: Doc) {
        for (_, keys) in self.stages.iter_mut() {
            keys.sorted.retain(|p| (*p as Doc) > last);
            keys.index_sorted();
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
        self.stages.iter().map(|(_, k)| k.sorted.len() + k.recent_len).sum::<usize>()
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
        index.add_pending_record(1, 9, b"nine".to_vec());
        index.commit();
        assert_eq!((index.record(1, 7), index.record(1, 9)), (None, Some(&b"nine"[..])), "seq numbers that were no document");
        index.forget_through(8);
        assert_eq!((index.record(1, 3), index.record(1, 9)), (None, Some(&b"nine"[..])));
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
