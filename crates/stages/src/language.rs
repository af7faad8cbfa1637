//! `language`: the [`LanguageDetector`]. Two detectors, each where it is best:
//!
//! * whatlang (trigram profiles, about 0.2 ms per 1,000 characters) decides
//!   when it is reliable and the language has no close neighbour;
//! * lingua (the accuracy leader, about 12-20 ms per 1,000 characters over all
//!   75 languages: measured, see NOTES.md) decides the rest, restricted to
//!   whatlang's candidate and its confusable neighbours (Croatian / Serbian /
//!   Bosnian, Persian / Arabic / Urdu, Danish / Norwegian / Swedish, ...).
//!   With a handful of languages lingua is fast even in high-accuracy mode.
//!
//! lingua's models load lazily, per language, once per process, so memory
//! grows only with the languages that actually arrive.

use gleaner_pipeline::document::{BlockLanguage, Language as LanguageSlot};
use gleaner_pipeline::{async_trait, parse_options, BuiltStage, Document, Stage, StageError};
use lingua::{IsoCode639_1, IsoCode639_3, Language as L, LanguageDetectorBuilder};
use serde::Deserialize;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// Options of the `language` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LanguageConfig {
    /// ISO 639-1 codes to choose from; empty = every language lingua knows.
    /// Restricting the set avoids confusions with languages you never receive.
    pub languages: Vec<String>,
    /// Accuracy mode of lingua: `high` (1- to 5-gram models) or `low`
    /// (trigrams only). High is affordable because lingua only ever runs on
    /// a few candidate languages.
    pub accuracy: String,
    /// `hybrid` (whatlang first, lingua for hard cases) or `lingua` (lingua
    /// over every language for every document: most accurate on short
    /// texts, about 100 times slower).
    pub strategy: String,
    /// Characters of cleaned text looked at; language is stable long before
    /// the end of a report.
    pub max_chars: usize,
    /// whatlang's answer is taken only from this confidence up.
    pub whatlang_min_confidence: f64,
    /// Below this confidence the runner-up languages are reported too.
    pub alternatives_below: f64,
    /// Function words per language (TOML, code = "words ..."); default: the
    /// built-in `config/lexicons/stopwords.toml`. A paragraph dense in the
    /// document language's function words is that language without asking
    /// a detector.
    pub stopwords: Option<std::path::PathBuf>,
}

impl Default for LanguageConfig {
    fn default() -> Self {
        LanguageConfig {
            languages: Vec::new(),
            accuracy: "high".into(),
            strategy: "hybrid".into(),
            max_chars: 600,
            whatlang_min_confidence: 0.9,
            alternatives_below: 0.9,
            stopwords: None,
        }
    }
}

/// Languages that detectors confuse with each other; a decision among them
/// always goes to lingua.
const CONFUSABLE: &[&[L]] = &[
    &[L::Croatian, L::Serbian, L::Bosnian, L::Slovene],
    &[L::Persian, L::Arabic, L::Urdu],
    &[L::Indonesian, L::Malay],
    &[L::Danish, L::Bokmal, L::Nynorsk, L::Swedish],
    &[L::Czech, L::Slovak],
    &[L::Spanish, L::Portuguese, L::Catalan],
    &[L::Russian, L::Ukrainian, L::Belarusian, L::Bulgarian, L::Macedonian],
    &[L::Hindi, L::Marathi],
    &[L::Chinese, L::Japanese],
];

/// Builds the stage from its TOML table.
pub fn build(table: toml::Table) -> Result<BuiltStage, String> {
    let config: LanguageConfig = parse_options(table)?;
    Ok(BuiltStage::Parallel(Arc::new(LanguageDetector::new(config)?)))
}

/// The language stage.
pub struct LanguageDetector {
    config: LanguageConfig,
    /// The configured set; empty = all.
    languages: Vec<L>,
    /// lingua detectors per candidate set. They share lingua's model cache,
    /// so a new set costs no new models.
    detectors: Mutex<HashMap<Vec<L>, Arc<lingua::LanguageDetector>>>,
    /// Function words per ISO 639-1 code.
    stopwords: HashMap<String, crate::StopwordSet>,
}

impl LanguageDetector {
    /// Validates the configuration; models load on first use.
    pub fn new(config: LanguageConfig) -> Result<LanguageDetector, String> {
        if config.accuracy != "low" && config.accuracy != "high" {
            return Err(format!("accuracy must be \"low\" or \"high\", not {:?}", config.accuracy));
        }
        if config.strategy != "hybrid" && config.strategy != "lingua" {
            return Err(format!("strategy must be \"hybrid\" or \"lingua\", not {:?}", config.strategy));
        }
        let mut languages = Vec::new();
        for code in &config.languages {
            let iso = IsoCode639_1::from_str(&code.to_lowercase())
                .map_err(|_| format!("unknown language code {code:?} in `languages` (use ISO 639-1, e.g. \"en\")"))?;
            languages.push(L::from_iso_code_639_1(&iso));
        }
        if languages.len() == 1 {
            return Err("`languages` needs at least two languages to choose from (or none for all)".into());
        }
        let stop_text = crate::file_or_builtin(config.stopwords.as_deref(), crate::BUILTIN_STOPWORDS, "stopwords")?;
        let lists: HashMap<String, String> = toml::from_str(&stop_text).map_err(|e| format!("stopwords: {e}"))?;
        let stopwords = lists
            .into_iter()
            .map(|(code, words)| (code.to_lowercase(), words.split_whitespace().collect()))
            .collect();
        Ok(LanguageDetector { config, languages, detectors: Mutex::new(HashMap::new()), stopwords })
    }

    fn allowed(&self, l: L) -> bool {
        self.languages.is_empty() || self.languages.contains(&l)
    }

    fn lingua_for(&self, mut set: Vec<L>) -> Arc<lingua::LanguageDetector> {
        set.sort();
        set.dedup();
        let mut cache = self.detectors.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(set.clone())
            .or_insert_with(|| {
                let mut b = if set.is_empty() {
                    LanguageDetectorBuilder::from_all_languages()
                } else if set.len() == 1 {
                    // lingua needs two languages; the second never wins.
                    LanguageDetectorBuilder::from_languages(&[set[0], if set[0] == L::English { L::French } else { L::English }])
                } else {
                    LanguageDetectorBuilder::from_languages(&set)
                };
                if self.config.accuracy == "low" {
                    b.with_low_accuracy_mode();
                }
                Arc::new(b.build())
            })
            .clone()
    }

    /// Detects the language of a text.
    pub fn detect(&self, text: &str) -> Option<LanguageSlot> {
        let sample: String = text.chars().take(self.config.max_chars).collect();
        let quick = whatlang::detect(&sample).and_then(|info| Some((from_whatlang(info.lang())?, info)));
        let candidates: Vec<L> = match (&quick, self.config.strategy.as_str()) {
            (Some((lang, info)), "hybrid") => {
                let group = CONFUSABLE.iter().find(|g| g.contains(lang));
                if group.is_none()
                    && info.is_reliable()
                    && info.confidence() >= self.config.whatlang_min_confidence
                    && self.allowed(*lang)
                {
                    return Some(LanguageSlot {
                        code: code(*lang),
                        confidence: round3(info.confidence()),
                        alternatives: Vec::new(),
                        blocks: Vec::new(),
                        mixed: false,
                    });
                }
                let mut set: Vec<L> = group.map(|g| g.to_vec()).unwrap_or_default();
                set.push(*lang);
                set.retain(|l| self.allowed(*l));
                if set.len() >= 2 {
                    set
                } else {
                    self.languages.clone()
                }
            }
            _ => self.languages.clone(),
        };
        let values = self.lingua_for(candidates).compute_language_confidence_values(sample.as_str());
        let (mut best, mut confidence) = *values.first()?;
        if let Some(decided) = decide_by_markers(best, &sample) {
            if decided != best && self.allowed(decided) {
                best = decided;
                confidence = values.iter().find(|(l, _)| *l == decided).map(|(_, c)| *c).unwrap_or(confidence).max(0.5);
            }
        }
        if confidence <= 0.0 {
            return None;
        }
        let alternatives = if confidence < self.config.alternatives_below {
            values.iter().skip(1).take(3).filter(|(_, c)| *c >= 0.05).map(|(l, c)| (code(*l), round3(*c))).collect()
        } else {
            Vec::new()
        };
        Some(LanguageSlot { code: code(best), confidence: round3(confidence), alternatives, blocks: Vec::new(), mixed: false })
    }

    /// Language per paragraph (whatlang, reliable answers only), and whether
    /// the paragraphs disagree: a second language holding at least
    /// `MIXED_SHARE` of the judged text makes the document mixed.
    ///
    /// Cost: whatlang on every paragraph was a quarter of the pipeline's CPU
    /// (perf), so at most `MAX_BLOCKS` paragraphs are judged: the first two,
    /// the last two and two in between (where foreign footers and headers
    /// sit), each on its first `SAMPLE_CHARS` characters. A paragraph whose
    /// words are at least `OWN_STOPWORDS` function words of the document
    /// language (`doc_code`) is taken as that language without whatlang,
    /// whose fixed cost (300 trigrams per candidate language) is large on a
    /// short sample; foreign footers have next to none of them.
    pub fn blocks(&self, text: &str, doc_code: &str) -> (Vec<BlockLanguage>, bool) {
        const OWN_STOPWORDS: f64 = 0.3;
        const MIN_WORDS: usize = 10;
        const MIN_CHARS: usize = 80;
        const MIXED_SHARE: f64 = 0.15;
        const MAX_BLOCKS: usize = 6;
        const SAMPLE_CHARS: usize = 200;
        let mut paras = Vec::new();
        let mut offset = 0;
        for para in text.split("\n\n") {
            if para.len() >= MIN_CHARS && para.chars().nth(MIN_CHARS - 1).is_some() {
                paras.push((offset, para));
            }
            offset += para.len() + 2;
        }
        let chosen: Vec<usize> = if paras.len() <= MAX_BLOCKS {
            (0..paras.len()).collect()
        } else {
            let n = paras.len();
            let mut idx: Vec<usize> = vec![0, 1, n / 3, 2 * n / 3, n - 2, n - 1];
            idx.sort_unstable();
            idx.dedup();
            idx
        };
        let mut blocks = Vec::new();
        for (start, para) in chosen.into_iter().map(|i| paras[i]) {
            let sample = match para.char_indices().nth(SAMPLE_CHARS) {
                Some((cut, _)) => &para[..cut],
                None => para,
            };
            if let Some(own) = self.stopwords.get(doc_code) {
                let (words, hits) = crate::count_stopwords(sample, own);
                if words >= MIN_WORDS && hits as f64 >= OWN_STOPWORDS * words as f64 {
                    blocks.push(BlockLanguage { start, end: start + para.len(), code: doc_code.to_string() });
                    continue;
                }
            }
            let Some(info) = whatlang::detect(sample).filter(|i| i.is_reliable()) else { continue };
            let Some(lang) = from_whatlang(info.lang()) else { continue };
            blocks.push(BlockLanguage { start, end: start + para.len(), code: code(lang) });
        }
        let mut share: HashMap<&str, usize> = HashMap::new();
        for b in &blocks {
            *share.entry(b.code.as_str()).or_default() += b.end - b.start;
        }
        let total: usize = share.values().sum();
        let big = share.values().filter(|n| **n as f64 >= total as f64 * MIXED_SHARE).count();
        (blocks, big > 1)
    }
}

/// Words that tell close languages apart where character n-grams do not:
/// Malay and Indonesian spell common words differently; Serbian is mostly
/// ekavian ("vreme", "mesto") where Croatian and Bosnian are ijekavian
/// ("vrijeme", "mjesto"); Croatian and Bosnian differ in a few everyday words
/// ("tisuća" / "hiljada", "tko" / "ko").
const MALAY: Markers = Markers {
    words: &[
        "kerana",
        "daripada",
        "kerajaan",
        "boleh",
        "sahaja",
        "selepas",
        "mahu",
        "semasa",
        "wang",
        "kereta",
        "bahawa",
        "negeri",
        "percuma",
        "hendaklah",
        "iaitu",
        "sebarang",
        "dalam",
        "ramai",
        "jabatan",
        "pejabat",
        "kanak-kanak",
        "ahli",
        "cuba",
        "dapat",
        "beberapa",
    ],
    stems: &[],
    letters: &[],
};
const INDONESIAN: Markers = Markers {
    words: &[
        "karena",
        "dari",
        "pemerintah",
        "bisa",
        "saja",
        "setelah",
        "mau",
        "saat",
        "uang",
        "mobil",
        "bahwa",
        "provinsi",
        "gratis",
        "yaitu",
        "banyak",
        "kantor",
        "anak-anak",
        "anggota",
        "coba",
        "bagi",
        "tersebut",
        "sangat",
        "tapi",
        "kalau",
    ],
    stems: &[],
    letters: &[],
};
// South Slavic markers. A word counts for a list when it equals one of its
// `words` or starts with one of its `stems`; each list is a standard
// difference between the languages, not a sample's vocabulary.

/// Ekavian reflexes of jat (Serbian): "vreme", "čovek", "primena".
const EKAVIAN: Markers = Markers {
    words: &[
        "vreme", "dete", "deca", "dece", "deci", "decu", "decom", "reč", "reči", "rečju", "uvek", "zauvek", "gde", "ovde",
        "onde", "negde", "nigde", "svugde", "pre", "posle", "lepo", "lep", "lepa", "lepe", "lepi", "beo", "belo", "bela", "bele",
        "mleko", "reka", "reke", "reku", "dve", "deo", "delo", "vera", "vere", "veru", "verom", "vest", "vesti", "savest",
        "svest", "svesti", "sme", "smeju", "mesto", "mesta", "mestu", "mestima", "nedelja", "nedelje", "nedelju", "mera", "mere",
        "meru", "merama", "ceo", "cela", "celo", "celi", "celog", "celu", "cena", "cene", "cenu", "cenom", "pesma", "pesme",
        "pesmu", "hteo", "htela", "hteli", "lek", "leka", "lekovi", "sneg", "snega", "juče", "primer", "procena", "procene",
        "proceni", "procenu",
    ],
    stems: &[
        "čovek",
        "čoveč",
        "nečoveč",
        "svetsk",
        "razumevanj",
        "verovat",
        "verovanj",
        "versk",
        "veroispov",
        "vernik",
        "delatn",
        "delovanj",
        "delimičn",
        "podel",
        "odeljenj",
        "primen",
        "promen",
        "zamen",
        "izmen",
        "namer",
        "obezbe",
        "bezbedn",
        "obavešt",
        "opšt",
        "pevač",
        "pevanj",
        "sever",
        "svetl",
        "vredn",
        "mesec",
        "nasled",
        "ponedelj",
        "uspe",
        "lekar",
        "hleb",
        "sedišt",
        "istorij",
    ],
    letters: &[],
};

/// Ijekavian reflexes (Croatian, Bosnian): "vrijeme", "čovjek", "primjena".
const IJEKAVIAN: Markers = Markers {
    words: &[
        "vrijeme", "dijete", "djeca", "djece", "djeci", "djecu", "djecom", "riječ", "riječi", "uvijek", "zauvijek", "gdje",
        "ovdje", "negdje", "nigdje", "svugdje", "prije", "poslije", "lijepo", "lijep", "lijepa", "mlijeko", "rijeka", "rijeke",
        "rijeku", "dvije", "dio", "djelo", "vjera", "vjere", "vjeru", "vijest", "vijesti", "savjest", "svijest", "smije",
        "mjesto", "mjesta", "mjestu", "nedjelja", "nedjelje", "nedjelju", "mjera", "mjere", "mjeru", "cijeli", "cijela",
        "cijelo", "cijena", "cijene", "cijenu", "pjesma", "pjesme", "htio", "lijek", "snijeg", "obje", "primjer",
    ],
    stems: &[
        "čovjek",
        "čovječ",
        "nečovječ",
        "svjetsk",
        "razumijevanj",
        "vjerov",
        "vjersk",
        "vjeroispov",
        "vjernik",
        "djelatn",
        "djelovanj",
        "djelomičn",
        "podjel",
        "odjel",
        "primjen",
        "promjen",
        "zamjen",
        "izmjen",
        "namjer",
        "obezbijed",
        "bezbjedn",
        "obavješt",
        "pjevač",
        "pjevanj",
        "sjever",
        "svjetl",
        "vrijedn",
        "mjesec",
        "mjesn",
        "nasljed",
        "ponedjelj",
        "procjen",
        "uspje",
        "pripovijet",
        "pripovjed",
        "cjelin",
        "sjen",
        "ljekar",
        "hljeb",
        "sjedišt",
        "bijel",
    ],
    letters: &[],
};

/// Croatian words where Serbian and Bosnian use others ("tisuća" / "hiljada").
const CROATIAN: Markers = Markers {
    words: &[
        "tko", "nitko", "netko", "itko", "vlak", "vlaka", "vlakovi", "vlakove", "kruh", "kruha", "otok", "otoka", "tijekom",
        "također", "zrak", "tisak", "kat",
    ],
    stems: &[
        "tisuć",
        "tjedn",
        "tjedan",
        "povijes",
        "sveučiliš",
        "glazb",
        "obitelj",
        "zrakoplov",
        "nogomet",
        "kazališ",
        "znanost",
        "znanstven",
        "izvješ",
        "razin",
        "surad",
        "poduzeć",
        "tvrtk",
        "kemij",
        "europ",
        "točk",
        "točn",
        "uvjet",
        "hrvatsk",
        "obran",
        "sudjelov",
        "postot",
        "zračn",
        "financ",
        "utjecaj",
        "siječ",
        "veljač",
        "ožuj",
        "travanj",
        "travnj",
        "svibanj",
        "svibnj",
        "lipanj",
        "lipnj",
        "srpanj",
        "srpnj",
        "kolovoz",
        "rujan",
        "rujn",
        "listopad",
        "prosinc",
        "prosinac",
        "vanjsk",
        "zapovjed",
        "projektiran",
        "organiziran",
    ],
    letters: &[],
};

/// Words Serbian and Bosnian share against Croatian ("hiljada", "tačno").
const EASTERN: Markers = Markers {
    words: &[
        "ko", "niko", "neko", "šta", "voz", "sprat", "nivo", "nivou", "nivoa", "nauka", "nauke", "procenat", "procenta", "tokom",
        "takođe",
    ],
    stems: &[
        "hiljad",
        "sedmic",
        "historij",
        "hemij",
        "saradnj",
        "uslov",
        "tačk",
        "tačn",
        "evrop",
        "fudbal",
        "pozoriš",
        "univerzitet",
        "naučn",
        "ćelij",
        "vazduh",
        "odbran",
        "učestvov",
        "preduzeć",
        "porodic",
        "opštin",
        "spoljn",
        "finans",
        "uticaj",
        "reagov",
        "organizov",
        "projektov",
        "definis",
        "informis",
        "aerodrom",
    ],
    letters: &[],
};

/// Czech and Slovak: the verb "to be" and everyday function words differ
/// ("byl" / "bol", "jsou" / "sú", "také" / "tiež"), even in text typed
/// without diacritics; and letters only one of them writes.
const CZECH: Markers = Markers {
    words: &[
        "byl", "byla", "bylo", "byli", "byly", "jsem", "jsme", "jste", "jsou", "není", "neni", "také", "take", "který",
        "která", "které", "ktery", "ktera", "ktere", "jejich", "když", "kdyz", "protože", "protoze", "mezi", "přes", "při",
        "již", "jenž", "tedy", "proto",
    ],
    stems: &[],
    letters: &['ř', 'ě', 'ů'],
};

const SLOVAK: Markers = Markers {
    words: &[
        "bol", "bola", "bolo", "boli", "som", "sme", "ste", "sú", "su", "tiež", "tiez", "ktorý", "ktorá", "ktoré", "ktory",
        "ktora", "ktore", "ich", "keď", "ked", "pretože", "pretoze", "medzi", "cez", "pri", "už", "teda", "preto",
        "alebo", "ako", "veľmi", "velmi",
    ],
    stems: &[],
    letters: &['ä', 'ľ', 'ĺ', 'ŕ', 'ô'],
};

/// Hindi and Marathi share the script; their auxiliaries and postpositions
/// do not ("है" / "आहे", "और" / "आणि", "में" / "मध्ये").
const HINDI: Markers = Markers {
    words: &["है", "हैं", "था", "थे", "थी", "के", "की", "का", "में", "से", "को", "और", "नहीं", "लिए", "गया", "किया", "यह", "वह"],
    stems: &[],
    letters: &[],
};

const MARATHI: Markers = Markers {
    words: &["आहे", "आहेत", "होते", "होता", "होती", "आणि", "मध्ये", "नाही", "केले", "झाले", "आपण", "म्हणून", "आहोत", "त्याच्या", "त्यांच्या"],
    stems: &[],
    letters: &[],
};

/// A list of marker words, word beginnings and letters.
struct Markers {
    words: &'static [&'static str],
    stems: &'static [&'static str],
    /// Letters only this language writes (lower case); each one counts.
    letters: &'static [char],
}

impl Markers {
    fn count(&self, words: &[String]) -> usize {
        let hits = words.iter().filter(|w| self.words.contains(&w.as_str()) || self.stems.iter().any(|s| w.starts_with(s))).count();
        if self.letters.is_empty() {
            return hits;
        }
        hits + words.iter().flat_map(|w| w.chars()).filter(|c| self.letters.contains(c)).count()
    }
}

/// Ekavian "-evanje" / "-evati" after a consonant ("razumevanje"), where
/// ijekavian has "-ijevanje" and non-jat verbs "-ovanje" ("putovanje").
fn ekavian_verbs(words: &[String]) -> usize {
    words
        .iter()
        .filter(|w| {
            ["evanj", "evat"].iter().any(|suffix| {
                w.match_indices(suffix)
                    .any(|(i, _)| w[..i].chars().next_back().is_some_and(|c| c.is_alphabetic() && !"aeiouj".contains(c)))
            })
        })
        .count()
}

/// The language the marker words point to, when lingua chose among close
/// neighbours and the words disagree clearly (two or more markers ahead).
fn decide_by_markers(best: L, text: &str) -> Option<L> {
    let words: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric() && c != '-').filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let lead = |a: usize, b: usize| a >= b + 2 || (a >= 1 && b == 0 && words.len() < 40);
    // The language whose markers lead clearly, if either does.
    let pick = |(a, la): (usize, L), (b, lb): (usize, L)| {
        if lead(a, b) {
            Some(la)
        } else if lead(b, a) {
            Some(lb)
        } else {
            None
        }
    };
    match best {
        L::Malay | L::Indonesian => pick((MALAY.count(&words), L::Malay), (INDONESIAN.count(&words), L::Indonesian)),
        L::Czech | L::Slovak => pick((CZECH.count(&words), L::Czech), (SLOVAK.count(&words), L::Slovak)),
        L::Hindi | L::Marathi => pick((HINDI.count(&words), L::Hindi), (MARATHI.count(&words), L::Marathi)),
        L::Croatian | L::Bosnian | L::Serbian if text.chars().any(|c| c.is_ascii_alphabetic()) => {
            // lingua's Serbian model is Cyrillic, so Latin Serbian reaches
            // it as Croatian or Bosnian: the jat reflex tells it apart.
            let ek = EKAVIAN.count(&words) + ekavian_verbs(&words);
            let ije = IJEKAVIAN.count(&words);
            if lead(ek, ije) {
                return Some(L::Serbian);
            }
            let east = if ek > ije { L::Serbian } else { L::Bosnian };
            pick((CROATIAN.count(&words), L::Croatian), (EASTERN.count(&words), east))
        }
        _ => None,
    }
}

/// whatlang's language as lingua's, through ISO 639-3.
fn from_whatlang(l: whatlang::Lang) -> Option<L> {
    let code = match l {
        // whatlang's "nob" is Bokmål; lingua knows it as such.
        whatlang::Lang::Nob => "nob",
        other => other.code(),
    };
    IsoCode639_3::from_str(code).ok().map(|iso| L::from_iso_code_639_3(&iso))
}

fn code(l: L) -> String {
    // Bokmål/Nynorsk: our users (and ISO 639-1 `no`) mean Norwegian.
    match l {
        L::Bokmal | L::Nynorsk => "no".into(),
        _ => l.iso_code_639_1().to_string(),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[async_trait]
impl Stage for LanguageDetector {
    fn name(&self) -> &str {
        "language"
    }

    async fn process(&self, doc: &mut Document) -> Result<(), StageError> {
        let text = if doc.text.trim().is_empty() { doc.raw.as_str() } else { doc.text.as_str() };
        match self.detect(text) {
            Some(mut l) => {
                (l.blocks, l.mixed) = self.blocks(&doc.text, &l.code);
                doc.language = Some(l)
            }
            None => doc.warn("language", "the language could not be determined (too little text)"),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_common_languages() {
        let d = LanguageDetector::new(LanguageConfig::default()).unwrap();
        assert_eq!(d.detect("The government said on Tuesday that it would not change its plans.").unwrap().code, "en");
        assert_eq!(d.detect("Die Regierung sagte am Dienstag, sie werde ihre Pläne nicht ändern.").unwrap().code, "de");
        assert_eq!(d.detect("Le gouvernement a déclaré mardi qu'il ne changerait pas ses plans.").unwrap().code, "fr");
    }

    #[test]
    fn confusable_languages_go_to_lingua() {
        let d = LanguageDetector::new(LanguageConfig::default()).unwrap();
        assert_eq!(
            d.detect("Vlada je u utorak saopćila da neće mijenjati svoje planove unatoč prosvjedima.").unwrap().code,
            "hr"
        );
        assert_eq!(d.detect("Влада је у уторак саопштила да неће мењати своје планове упркос протестима.").unwrap().code, "sr");
    }

    #[test]
    fn serbian_in_latin_script_croatian_and_bosnian_are_told_apart() {
        let d = LanguageDetector::new(LanguageConfig::default()).unwrap();
        for (text, code) in [
            ("Ovo je vreme kada deca uče da čitaju, a svaki čovek mora da razume svetske promene.", "sr"),
            ("Vlada je saopštila da će primena novih mera početi posle praznika u celoj zemlji.", "sr"),
            ("Tijekom tjedna vlak za Split kasnio je gotovo tisuću puta, rekao je glasnogovornik tvrtke.", "hr"),
            ("Tokom sedmice je hiljadu ljudi došlo na sajam, a niko nije znao šta se dešava.", "bs"),
        ] {
            assert_eq!(d.detect(text).unwrap().code, code, "{text}");
        }
    }

    #[test]
    fn czech_and_slovak_and_hindi_and_marathi_are_told_apart_by_function_words() {
        for (best, text, want) in [
            (L::Slovak, "Predkem Rodovskych z Hustiran byl Bavor na Neznasove a jeho jediny syn Martin.", Some(L::Czech)),
            (L::Czech, "Jeho otec bol učiteľ a matka bola doma, keď sme prišli.", Some(L::Slovak)),
            (L::Marathi, "भारत के अस्सीं करोड़ मतदाताओं में आप पचपन करोड़ है।", Some(L::Hindi)),
            (L::Hindi, "भारत हा एक मोठा देश आहे आणि तिथे अनेक भाषा बोलल्या जातात.", Some(L::Marathi)),
            (L::Czech, "Praha Bratislava 2024", None),
        ] {
            assert_eq!(decide_by_markers(best, text), want, "{text}");
        }
    }

    #[test]
    fn mixed_documents_are_flagged() {
        let d = LanguageDetector::new(LanguageConfig::default()).unwrap();
        let en = "The government said on Tuesday that it would not change its plans for the coming year despite the protests.";
        let hr = "Vlada je u utorak saopćila da neće mijenjati svoje planove za iduću godinu unatoč prosvjedima građana.";
        let (blocks, mixed) = d.blocks(&format!("{en}\n\n{en}\n\n{hr}"), "en");
        assert!(mixed, "{blocks:?}");
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].code, "en");
        assert_eq!(blocks[2].code, "hr");
        let (_, mixed) = d.blocks(&format!("{en}\n\n{en}"), "en");
        assert!(!mixed);
        // The function-word shortcut answers only for the document's own
        // language: the same Croatian paragraph in a Croatian report is hr,
        // and the English one there is still found to be English.
        let (blocks, mixed) = d.blocks(&format!("{hr}\n\n{hr}\n\n{en}"), "hr");
        assert!(mixed, "{blocks:?}");
        assert_eq!(blocks.iter().map(|b| b.code.as_str()).collect::<Vec<_>>(), ["hr", "hr", "en"]);
    }

    #[test]
    fn function_words_are_counted_case_blind() {
        let d = LanguageDetector::new(LanguageConfig::default()).unwrap();
        let (words, hits) = crate::count_stopwords("The cat AND the dog's bowl, 42 times", &d.stopwords["en"]);
        assert_eq!(words, 7);
        assert_eq!(hits, 3);
    }

    #[test]
    fn bad_codes_are_config_errors() {
        assert!(
            LanguageDetector::new(LanguageConfig { languages: vec!["xx".into(), "en".into()], ..Default::default() }).is_err()
        );
        assert!(LanguageDetector::new(LanguageConfig { accuracy: "best".into(), ..Default::default() }).is_err());
    }
}
