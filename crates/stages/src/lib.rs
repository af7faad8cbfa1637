//! Gleaner's built-in stages, one module each. A stage is a config struct
//! (serde, `deny_unknown_fields`, documented fields with defaults), a
//! `build()` that turns its TOML table into a runtime, and the runtime.
//!
//! | name | struct | kind |
//! |---|---|---|
//! | `clean` | [`clean::BoilerplateStripper`] | parallel |
//! | `language` | [`language::LanguageDetector`] | parallel |
//! | `dates` | [`dates::DateExtractor`] | parallel |
//! | `entities` | [`entities::EntityTagger`] | parallel |
//! | `dedup` | [`dedup::DuplicateDetector`] | ordered (needs history) |
//! | `recurring_blocks` | [`recurring::RecurringBlockStripper`] | ordered; cuts edge paragraphs earlier reports carried |
//! | `exec` | [`exec::ExternalProgram`] | parallel; runs the user's program over JSON lines |
#![deny(missing_docs)]

pub mod clean;
pub mod dates;
pub mod dedup;
pub mod entities;
pub mod exec;
pub mod language;
pub mod ner_model;
pub mod recurring;

use gleaner_pipeline::Registry;

/// Every built-in stage by name: the one table `grep` finds them in.
pub fn register_builtin(registry: &mut Registry) {
    registry.register("clean", clean::build);
    registry.register("language", language::build);
    registry.register("dates", dates::build);
    registry.register("entities", entities::build);
    registry.register("dedup", dedup::build);
    registry.register("recurring_blocks", recurring::build);
    registry.register("exec", exec::build);
}

/// A registry with every built-in stage.
pub fn builtin_registry() -> Registry {
    let mut r = Registry::new();
    register_builtin(&mut r);
    r
}

/// Function words per language (`config/lexicons/stopwords.toml`), used by
/// `clean` and `language`.
pub(crate) const BUILTIN_STOPWORDS: &str = include_str!("../../../config/lexicons/stopwords.toml");

/// Counts of one block of text, from a single pass over its bytes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextStats {
    /// Whitespace-separated tokens.
    pub tokens: usize,
    /// Characters (not bytes).
    pub chars: usize,
    /// Characters of scripts written without spaces (CJK, Thai, Hangul).
    pub dense: usize,
    /// Words: runs of letters, digits and apostrophes holding a letter.
    pub words: usize,
    /// Words the stopword test accepted, lowercased.
    pub stopwords: usize,
}

/// Scripts written without spaces between words carry more per character.
pub(crate) fn is_dense_script(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0x0E00..=0x0E7F | 0xF900..=0xFAFF)
}

// What a character is, as bits: ASCII bytes from a table, other characters
// from Unicode.
const SPACE: u8 = 1;
/// Part of a word: a letter, a digit or an apostrophe.
const WORD: u8 = 2;
const LETTER: u8 = 4;
const CAPITAL: u8 = 8;
/// A byte of a multi-byte character: decode it.
const NON_ASCII: u8 = 16;

const BYTE_FLAGS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c >= 0x80 {
            NON_ASCII
        } else if c.is_ascii_lowercase() {
            WORD | LETTER
        } else if c.is_ascii_uppercase() {
            WORD | LETTER | CAPITAL
        } else if c.is_ascii_digit() || c == b'\'' {
            WORD
        } else if matches!(c, b' ' | b'\t'..=b'\r') {
            SPACE
        } else {
            0
        };
        b += 1;
    }
    t
};

/// A character of a script written without spaces.
const DENSE: u8 = 32;

fn char_flags(c: char) -> u8 {
    let mut f = NON_ASCII;
    if c.is_whitespace() {
        f |= SPACE;
    } else if c.is_alphabetic() {
        f |= WORD | LETTER;
        if c.is_uppercase() {
            f |= CAPITAL;
        }
    } else if c.is_alphanumeric() || c == '’' {
        f |= WORD;
    }
    if is_dense_script(c) {
        f |= DENSE;
    }
    f
}

/// `char_flags` of every character of the Basic Multilingual Plane, built
/// once (64 KiB): Unicode's tables are binary searches, and on pages in
/// Russian, German or Korean they were most of `text_stats`' time.
fn bmp_flags() -> &'static [u8] {
    static TABLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| (0..=0xFFFFu32).map(|cp| char::from_u32(cp).map_or(NON_ASCII, char_flags)).collect())
}

/// The flags and byte width of the non-ASCII character starting at
/// `bytes[i]`, a char boundary of a `str`.
fn non_ascii_flags(text: &str, i: usize, table: &[u8]) -> (u8, usize) {
    let b = text.as_bytes();
    let cont = |k: usize| u32::from(b.get(i + k).copied().unwrap_or(0x80) & 0x3F);
    let lead = u32::from(b[i]);
    let (cp, width) = if lead < 0xE0 {
        (((lead & 0x1F) << 6) | cont(1), 2)
    } else if lead < 0xF0 {
        (((lead & 0x0F) << 12) | (cont(1) << 6) | cont(2), 3)
    } else {
        let c = text[i..].chars().next().unwrap_or(' ');
        return (char_flags(c), c.len_utf8());
    };
    (table.get(cp as usize).copied().unwrap_or(NON_ASCII), width)
}

/// Every count the clean stage takes of a block, in one pass over its
/// bytes: ASCII (most of any page) is classified by a table and runs of
/// ASCII word bytes go through a tight inner loop; other characters come
/// from the BMP table. A capitalised ASCII word is lowercased as it is
/// packed for the stopword lookup; without `stopwords` none is counted.
/// Separate passes (a token count, then a split on a char predicate testing
/// each word for letters and capitals) were two fifths of the clean stage's
/// time under `perf` and callgrind.
pub(crate) fn text_stats(text: &str, stopwords: Option<&StopwordSet>) -> TextStats {
    let bytes = text.as_bytes();
    scan_words(text, |word| {
        let Some(set) = stopwords else { return false };
        if word.capital && !word.ascii {
            set.contains(&text[word.start..word.end].to_lowercase())
        } else {
            // ASCII, or nothing to lowercase: ASCII lowercasing is exact.
            set.contains_at(bytes, word.start, word.end, word.capital)
        }
    })
}

/// A word `scan_words` found: `text[start..end]`, with at least one letter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Word {
    pub start: usize,
    pub end: usize,
    /// It holds a capital letter.
    pub capital: bool,
    /// Every character is ASCII.
    pub ascii: bool,
}

/// The one definition of a word (letters, digits and apostrophes, with at
/// least one letter) and of the counts in [`TextStats`]. `is_stopword` is
/// asked about every word; the words it answers yes for are
/// `TextStats::stopwords`. Generic, so `text_stats`'s lookup inlines into
/// the loop.
pub(crate) fn scan_words(text: &str, mut is_stopword: impl FnMut(Word) -> bool) -> TextStats {
    let mut st = TextStats::default();
    let bytes = text.as_bytes();
    let mut finish = |start: usize, end: usize, flags: u8, st: &mut TextStats| {
        if flags & LETTER == 0 {
            return;
        }
        st.words += 1;
        let word = Word { start, end, capital: flags & CAPITAL != 0, ascii: flags & NON_ASCII == 0 };
        st.stopwords += usize::from(is_stopword(word));
    };
    let bmp = bmp_flags();
    let mut in_space = true;
    // The word being read: where it starts and the flags of its characters.
    let mut word_start: Option<usize> = None;
    let mut word_flags = 0u8;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (f, width) = if b < 0x80 {
            (BYTE_FLAGS[b as usize], 1)
        } else {
            let (f, width) = non_ascii_flags(text, i, bmp);
            st.dense += usize::from(f & DENSE != 0);
            (f, width)
        };
        st.chars += 1;
        let space = f & SPACE != 0;
        st.tokens += usize::from(in_space & !space);
        in_space = space;
        if f & WORD == 0 {
            if let Some(start) = word_start.take() {
                finish(start, i, word_flags, &mut st);
            }
            i += width;
            continue;
        }
        if word_start.is_none() {
            word_start = Some(i);
            word_flags = 0;
        }
        word_flags |= f;
        i += width;
        // The rest of an ASCII word: no token boundary, one char a byte.
        let run = i;
        while i < bytes.len() {
            let f = BYTE_FLAGS[bytes[i] as usize];
            if f & (WORD | NON_ASCII) != WORD {
                break;
            }
            word_flags |= f;
            i += 1;
        }
        st.chars += i - run;
    }
    if let Some(start) = word_start {
        finish(start, bytes.len(), word_flags, &mut st);
    }
    st
}

/// Words of `text` (letters, digits and apostrophes, with at least one
/// letter) and how many of them, lowercased, `stopwords` holds. Both the
/// `clean` stage's density and the `language` stage's paragraph shortcut
/// count this way.
pub(crate) fn count_stopwords(text: &str, stopwords: &StopwordSet) -> (usize, usize) {
    let st = text_stats(text, Some(stopwords));
    (st.words, st.stopwords)
}

/// A set of lowercase function words, looked up once per word of every
/// block. Words of up to 16 bytes (nearly all of them) are kept as one
/// `u128` each in an open-addressing table a quarter full: a lookup is a
/// multiply and one or two integer compares, where a `HashSet<String>`
/// hashed and compared bytes (a tenth of the clean stage's time under
/// `perf`, about 140 instructions a word under callgrind).
#[derive(Debug, Clone)]
pub(crate) struct StopwordSet {
    /// Packed words; 0 marks an empty slot (no word packs to 0).
    slots: Vec<u128>,
    /// `64 - log2(slots.len())`: the hash's top bits pick the slot.
    shift: u32,
    long: std::collections::HashSet<String, foldhash::fast::FixedState>,
}

impl StopwordSet {
    /// `word`'s bytes as a number, when it has 16 or fewer (words hold no
    /// NUL byte, so zero padding cannot make two words equal).
    fn packed(word: &str) -> Option<u128> {
        let b = word.as_bytes();
        (b.len() <= 16).then(|| {
            let mut buf = [0u8; 16];
            buf[..b.len()].copy_from_slice(b);
            u128::from_le_bytes(buf)
        })
    }

    /// The key of `bytes[start..end]` (at most 16 bytes) without a copy: one
    /// 16-byte load, masked to the word, ASCII capitals lowercased eight
    /// lanes at a time (SWAR) when `lowercase`.
    fn key_at(bytes: &[u8], start: usize, end: usize, lowercase: bool) -> u128 {
        const ONES: u128 = u128::MAX / 0xFF;
        let len = end - start;
        let raw = match bytes.get(start..start + 16) {
            Some(b) => u128::from_le_bytes(b.try_into().unwrap_or([0; 16])),
            None => {
                let mut buf = [0u8; 16];
                buf[..len].copy_from_slice(&bytes[start..end]);
                u128::from_le_bytes(buf)
            }
        };
        let key = if len == 16 { raw } else { raw & ((1u128 << (8 * len)) - 1) };
        if !lowercase {
            return key;
        }
        // Every byte is ASCII (below 0x80), so these sums carry into no
        // neighbour: a byte's top bit says ">= 'A'" and "> 'Z'".
        let at_least_a = key + ONES * u128::from(0x80 - b'A');
        let above_z = key + ONES * u128::from(0x80 - b'Z' - 1);
        let capitals = at_least_a & !above_z & (ONES * 0x80);
        key | (capitals >> 2)
    }

    fn slot(&self, key: u128) -> usize {
        let mixed = (key as u64 ^ ((key >> 64) as u64).rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> self.shift) as usize
    }

    /// Whether `word` (already lowercase) is in the set.
    pub(crate) fn contains(&self, word: &str) -> bool {
        match Self::packed(word) {
            Some(key) => self.contains_key(key),
            None => !self.long.is_empty() && self.long.contains(word),
        }
    }

    /// Whether the ASCII-only (or capital-free) word `bytes[start..end]`,
    /// lowercased when `lowercase`, is in the set.
    fn contains_at(&self, bytes: &[u8], start: usize, end: usize, lowercase: bool) -> bool {
        if end - start > 16 {
            return !self.long.is_empty()
                && self.long.contains(String::from_utf8_lossy(&bytes[start..end]).to_ascii_lowercase().as_str());
        }
        self.contains_key(Self::key_at(bytes, start, end, lowercase))
    }

    fn contains_key(&self, key: u128) -> bool {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(key);
        loop {
            match self.slots[i] {
                0 => return false,
                k if k == key => return true,
                _ => i = (i + 1) & mask,
            }
        }
    }
}

impl<S: AsRef<str>> FromIterator<S> for StopwordSet {
    /// Lowercases each word.
    fn from_iter<I: IntoIterator<Item = S>>(words: I) -> StopwordSet {
        let mut short = Vec::new();
        let mut long = std::collections::HashSet::default();
        for w in words {
            let w = w.as_ref().to_lowercase();
            match Self::packed(&w) {
                Some(k) if k != 0 => short.push(k),
                Some(_) => {}
                None => {
                    long.insert(w);
                }
            }
        }
        short.sort_unstable();
        short.dedup();
        let size = (short.len() * 4).next_power_of_two().max(16);
        let mut set = StopwordSet { slots: vec![0; size], shift: 64 - size.trailing_zeros(), long };
        for k in short {
            let mut i = set.slot(k);
            while set.slots[i] != 0 {
                i = (i + 1) & (size - 1);
            }
            set.slots[i] = k;
        }
        set
    }
}

/// The text of a user's file when the config names one, else the built-in
/// copy embedded from `config/`. `what` names the file in the error.
pub(crate) fn file_or_builtin(path: Option<&std::path::Path>, builtin: &str, what: &str) -> Result<String, String> {
    match path {
        Some(p) => std::fs::read_to_string(p).map_err(|e| format!("cannot read {what} {}: {e}", p.display())),
        None => Ok(builtin.to_string()),
    }
}

#[cfg(test)]
mod tests {
    /// The plain definition `count_stopwords` must agree with.
    fn reference(text: &str, is_stopword: impl Fn(&str) -> bool) -> (usize, usize) {
        let words: Vec<String> = text
            .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’')
            .filter(|w| w.chars().any(char::is_alphabetic))
            .map(str::to_lowercase)
            .collect();
        (words.len(), words.iter().filter(|w| is_stopword(w)).count())
    }

    #[test]
    fn stopword_set_finds_every_word_it_holds_and_no_other() {
        let words: Vec<String> = super::BUILTIN_STOPWORDS
            .lines()
            .filter_map(|l| l.split_once(" = "))
            .flat_map(|(_, v)| v.trim_matches('"').split_whitespace().map(str::to_lowercase).collect::<Vec<_>>())
            .collect();
        let set: super::StopwordSet = words.iter().chain(["Verwaltungsgerichtshof".to_string()].iter()).collect();
        assert!(words.len() > 1000);
        for w in &words {
            assert!(set.contains(w), "{w}");
        }
        assert!(set.contains("verwaltungsgerichtshof"), "a word over 16 bytes");
        for w in ["government", "zzz", "verwaltungsgericht", "thee", "th", "ａ"] {
            assert!(!set.contains(w), "{w}");
        }
        let empty: super::StopwordSet = std::iter::empty::<&str>().collect();
        assert!(!empty.contains("the"));
    }

    #[test]
    fn every_non_ascii_character_is_classified_as_unicode_says() {
        let table = super::bmp_flags();
        for c in (0x80..=0x10FFFFu32).filter_map(char::from_u32) {
            let s = c.to_string();
            assert_eq!(super::non_ascii_flags(&s, 0, table), (super::char_flags(c), c.len_utf8()), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn text_stats_match_the_plain_definitions_in_every_script() {
        let stop = ["the", "and", "der", "и", "في", "ve", "dog's", "l’état", "ölçü"];
        let texts = [
            "The cat AND the dog's bowl, 42 times",
            "DER Hund und die Katze — Ärger im Haus: 3x täglich!",
            "И в Москве, и в Петербурге; ПРИ ЭТОМ 12 человек",
            "قال الرئيس في بيان إن ... في 2024",
            "L’État et l’ÉTAT; Ölçü VE ölçü, İstanbul",
            "東京では雨、Tokyo 2020 and 大阪",
            "  --- 123 456 ''' ’’ ",
            "",
            "ẞtraße MASSE Straße x\u{0301}y",
            "서울에서\u{00a0}비가\u{3000}내렸다 กรุงเทพฯ\tTHE\u{2009}end",
        ];
        let set: super::StopwordSet = stop.iter().collect();
        for t in texts {
            let is_stop = |w: &str| stop.contains(&w);
            assert_eq!(super::count_stopwords(t, &set), reference(t, is_stop), "{t}");
            let st = super::text_stats(t, None);
            assert_eq!(st.stopwords, 0);
            assert_eq!(st.tokens, t.split_whitespace().count(), "{t}");
            assert_eq!(st.chars, t.chars().count(), "{t}");
            assert_eq!(st.dense, t.chars().filter(|&c| super::is_dense_script(c)).count(), "{t}");
        }
    }
}
