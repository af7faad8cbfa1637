//! `dates`: the [`DateExtractor`]. Finds date expressions, normalises them to
//! ISO 8601, and picks the publication date from the datelines and bylines
//! at the top of the page.
//!
//! The publication date is searched in the raw text (the dateline is page
//! furniture the cleaning stage removes) and only near the top, only in short
//! lines or lines with a publication cue ("Published", "Veröffentlicht"): a
//! date in a body sentence is an event date, not the report's. With no such
//! line, `published` is null and `published_after` holds the latest date the
//! text mentions: a bound, not a guess.

use chrono::{Datelike, NaiveDate};
use gleaner_pipeline::document::{DateMention, Dates, Published};
use gleaner_pipeline::{async_trait, parse_options, BuiltStage, Document, Stage, StageError};
use regex::{Captures, Regex};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Options of the `dates` stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatesConfig {
    /// Read `01/02/2024` as 1 February (true) or January 2 (false). A part
    /// above 12 decides on its own.
    pub day_first: bool,
    /// How many non-empty lines from the top may hold the publication date.
    pub header_lines: usize,
    /// Lines longer than this (words) are body sentences, not datelines.
    pub dateline_max_words: usize,
}

impl Default for DatesConfig {
    fn default() -> Self {
        DatesConfig { day_first: true, header_lines: 40, dateline_max_words: 30 }
    }
}

/// Builds the stage from its TOML table.
pub fn build(table: toml::Table) -> Result<BuiltStage, String> {
    let config: DatesConfig = parse_options(table)?;
    Ok(BuiltStage::Parallel(Arc::new(DateExtractor::new(config))))
}

/// Month names in the languages our users read, lowercase, to month number.
/// Shared spellings (`april`, `mai`) agree on the month.
const MONTHS: &[(&str, u32)] = &[
    // English
    ("january", 1),
    ("february", 2),
    ("march", 3),
    ("april", 4),
    ("may", 5),
    ("june", 6),
    ("july", 7),
    ("august", 8),
    ("september", 9),
    ("october", 10),
    ("november", 11),
    ("december", 12),
    ("jan", 1),
    ("feb", 2),
    ("mar", 3),
    ("apr", 4),
    ("jun", 6),
    ("jul", 7),
    ("aug", 8),
    ("sep", 9),
    ("sept", 9),
    ("oct", 10),
    ("nov", 11),
    ("dec", 12),
    // German
    ("januar", 1),
    ("jänner", 1),
    ("februar", 2),
    ("märz", 3),
    ("mai", 5),
    ("juni", 6),
    ("juli", 7),
    ("oktober", 10),
    ("dezember", 12),
    ("okt", 10),
    ("dez", 12),
    // French
    ("janvier", 1),
    ("février", 2),
    ("mars", 3),
    ("avril", 4),
    ("juin", 6),
    ("juillet", 7),
    ("août", 8),
    ("septembre", 9),
    ("octobre", 10),
    ("novembre", 11),
    ("décembre", 12),
    ("janv", 1),
    ("févr", 2),
    ("avr", 4),
    ("juil", 7),
    ("déc", 12),
    // Spanish
    ("enero", 1),
    ("febrero", 2),
    ("marzo", 3),
    ("abril", 4),
    ("mayo", 5),
    ("junio", 6),
    ("julio", 7),
    ("agosto", 8),
    ("septiembre", 9),
    ("setiembre", 9),
    ("octubre", 10),
    ("noviembre", 11),
    ("diciembre", 12),
    // Italian
    ("gennaio", 1),
    ("febbraio", 2),
    ("aprile", 4),
    ("maggio", 5),
    ("giugno", 6),
    ("luglio", 7),
    ("settembre", 9),
    ("ottobre", 10),
    ("dicembre", 12),
    // Portuguese
    ("janeiro", 1),
    ("fevereiro", 2),
    ("março", 3),
    ("maio", 5),
    ("junho", 6),
    ("julho", 7),
    ("setembro", 9),
    ("outubro", 10),
    ("dezembro", 12),
    // Dutch, Indonesian, Scandinavian
    ("januari", 1),
    ("februari", 2),
    ("maart", 3),
    ("mei", 5),
    ("augustus", 8),
    ("maret", 3),
    ("agustus", 8),
    ("desember", 12),
    ("januar", 1),
    ("marts", 3),
    ("maj", 5),
    ("augusti", 8),
    ("desember", 12),
    // Turkish
    ("ocak", 1),
    ("şubat", 2),
    ("mart", 3),
    ("nisan", 4),
    ("mayıs", 5),
    ("haziran", 6),
    ("temmuz", 7),
    ("ağustos", 8),
    ("eylül", 9),
    ("ekim", 10),
    ("kasım", 11),
    ("aralık", 12),
    // Finnish (partitive, as in dates)
    ("tammikuuta", 1),
    ("helmikuuta", 2),
    ("maaliskuuta", 3),
    ("huhtikuuta", 4),
    ("toukokuuta", 5),
    ("kesäkuuta", 6),
    ("heinäkuuta", 7),
    ("elokuuta", 8),
    ("syyskuuta", 9),
    ("lokakuuta", 10),
    ("marraskuuta", 11),
    ("joulukuuta", 12),
    // Russian (genitive, as in dates)
    ("января", 1),
    ("февраля", 2),
    ("марта", 3),
    ("апреля", 4),
    ("мая", 5),
    ("июня", 6),
    ("июля", 7),
    ("августа", 8),
    ("сентября", 9),
    ("октября", 10),
    ("ноября", 11),
    ("декабря", 12),
    // Arabic (Gregorian month names)
    ("يناير", 1),
    ("فبراير", 2),
    ("مارس", 3),
    ("أبريل", 4),
    ("مايو", 5),
    ("يونيو", 6),
    ("يوليو", 7),
    ("أغسطس", 8),
    ("سبتمبر", 9),
    ("أكتوبر", 10),
    ("نوفمبر", 11),
    ("ديسمبر", 12),
];

/// Month and weekday names in every language the dates stage reads,
/// lowercase: what other stages mask to compare texts that differ only in
/// their dates.
pub(crate) fn month_and_weekday_names() -> impl Iterator<Item = &'static str> {
    MONTHS.iter().map(|(m, _)| *m).chain(WEEKDAYS.split('|'))
}

const WEEKDAYS: &str = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|lunes|martes|miércoles|jueves|viernes|sábado|domingo";

/// Which non-Gregorian calendar a month name belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OtherCalendar {
    Hebrew,
    Persian,
    Hijri,
}

/// Month names of the Hebrew, Persian (Solar Hijri) and Islamic (Hijri)
/// calendars as our sources write them, longest spellings first where one
/// is a prefix of another. Hebrew numbers are civil months of a common year
/// (Tishrei = 1); `Adar I` / `Adar II` are resolved for leap years.
const OTHER_MONTHS: &[(&str, OtherCalendar, u8)] = &[
    ("Marcheshvan", OtherCalendar::Hebrew, 2),
    ("Cheshvan", OtherCalendar::Hebrew, 2),
    ("Heshvan", OtherCalendar::Hebrew, 2),
    ("Tishrei", OtherCalendar::Hebrew, 1),
    ("Tishri", OtherCalendar::Hebrew, 1),
    ("Kislev", OtherCalendar::Hebrew, 3),
    ("Tevet", OtherCalendar::Hebrew, 4),
    ("Shevat", OtherCalendar::Hebrew, 5),
    ("Shvat", OtherCalendar::Hebrew, 5),
    ("Adar II", OtherCalendar::Hebrew, 7),
    ("Adar I", OtherCalendar::Hebrew, 6),
    ("Adar", OtherCalendar::Hebrew, 6),
    ("Nisan", OtherCalendar::Hebrew, 7),
    ("Iyar", OtherCalendar::Hebrew, 8),
    ("Sivan", OtherCalendar::Hebrew, 9),
    ("Tammuz", OtherCalendar::Hebrew, 10),
    ("Elul", OtherCalendar::Hebrew, 12),
    ("Av", OtherCalendar::Hebrew, 11),
    ("Farvardin", OtherCalendar::Persian, 1),
    ("Ordibehesht", OtherCalendar::Persian, 2),
    ("Khordad", OtherCalendar::Persian, 3),
    ("Tir", OtherCalendar::Persian, 4),
    ("Amordad", OtherCalendar::Persian, 5),
    ("Mordad", OtherCalendar::Persian, 5),
    ("Shahrivar", OtherCalendar::Persian, 6),
    ("Mehr", OtherCalendar::Persian, 7),
    ("Aban", OtherCalendar::Persian, 8),
    ("Azar", OtherCalendar::Persian, 9),
    ("Dey", OtherCalendar::Persian, 10),
    ("Bahman", OtherCalendar::Persian, 11),
    ("Esfand", OtherCalendar::Persian, 12),
    ("فروردین", OtherCalendar::Persian, 1),
    ("اردیبهشت", OtherCalendar::Persian, 2),
    ("خرداد", OtherCalendar::Persian, 3),
    ("تیر", OtherCalendar::Persian, 4),
    ("مرداد", OtherCalendar::Persian, 5),
    ("شهریور", OtherCalendar::Persian, 6),
    ("مهر", OtherCalendar::Persian, 7),
    ("آبان", OtherCalendar::Persian, 8),
    ("آذر", OtherCalendar::Persian, 9),
    ("دی", OtherCalendar::Persian, 10),
    ("بهمن", OtherCalendar::Persian, 11),
    ("اسفند", OtherCalendar::Persian, 12),
    ("Muharram", OtherCalendar::Hijri, 1),
    ("Safar", OtherCalendar::Hijri, 2),
    ("Rabi al-Awwal", OtherCalendar::Hijri, 3),
    ("Rabi' al-Awwal", OtherCalendar::Hijri, 3),
    ("Rabi I", OtherCalendar::Hijri, 3),
    ("Rabi al-Thani", OtherCalendar::Hijri, 4),
    ("Rabi' al-Thani", OtherCalendar::Hijri, 4),
    ("Rabi II", OtherCalendar::Hijri, 4),
    ("Jumada al-Awwal", OtherCalendar::Hijri, 5),
    ("Jumada I", OtherCalendar::Hijri, 5),
    ("Jumada al-Thani", OtherCalendar::Hijri, 6),
    ("Jumada al-Akhirah", OtherCalendar::Hijri, 6),
    ("Jumada II", OtherCalendar::Hijri, 6),
    ("Rajab", OtherCalendar::Hijri, 7),
    ("Sha'ban", OtherCalendar::Hijri, 8),
    ("Shaban", OtherCalendar::Hijri, 8),
    ("Ramadan", OtherCalendar::Hijri, 9),
    ("Ramazan", OtherCalendar::Hijri, 9),
    ("Shawwal", OtherCalendar::Hijri, 10),
    ("Dhu al-Qadah", OtherCalendar::Hijri, 11),
    ("Dhu al-Qi'dah", OtherCalendar::Hijri, 11),
    ("Dhu al-Hijjah", OtherCalendar::Hijri, 12),
    ("Dhul Hijjah", OtherCalendar::Hijri, 12),
    ("محرم", OtherCalendar::Hijri, 1),
    ("صفر", OtherCalendar::Hijri, 2),
    ("ربيع الأول", OtherCalendar::Hijri, 3),
    ("ربيع الثاني", OtherCalendar::Hijri, 4),
    ("ربيع الآخر", OtherCalendar::Hijri, 4),
    ("جمادى الأولى", OtherCalendar::Hijri, 5),
    ("جمادى الآخرة", OtherCalendar::Hijri, 6),
    ("جمادى الثانية", OtherCalendar::Hijri, 6),
    ("رجب", OtherCalendar::Hijri, 7),
    ("شعبان", OtherCalendar::Hijri, 8),
    ("رمضان", OtherCalendar::Hijri, 9),
    ("شوال", OtherCalendar::Hijri, 10),
    ("ذو القعدة", OtherCalendar::Hijri, 11),
    ("ذو الحجة", OtherCalendar::Hijri, 12),
];

/// Converts a Hebrew, Persian or Hijri date to ISO with ICU4X's calendars.
fn other_calendar_to_iso(calendar: OtherCalendar, year: i32, month: u8, day: u8, leap_adar_two: bool) -> Option<NaiveDate> {
    use icu_calendar::{islamic::IslamicCivil, Date};
    let iso = match calendar {
        OtherCalendar::Hebrew => {
            if !(5600..=6000).contains(&year) {
                return None;
            }
            let leap = Date::try_new_hebrew_date(year, 1, 1).ok()?.months_in_year() == 13;
            // In a leap year Adar I is month 6 and every later month moves up one.
            let ordinal = match (leap, month) {
                (true, 6) if leap_adar_two => 7,
                (true, 6) => 6,
                (true, m) if m >= 7 => m + 1,
                (_, m) => m,
            };
            Date::try_new_hebrew_date(year, ordinal, day).ok()?.to_iso()
        }
        OtherCalendar::Persian => {
            if !(1300..=1500).contains(&year) {
                return None;
            }
            Date::try_new_persian_date(year, month, day).ok()?.to_iso()
        }
        OtherCalendar::Hijri => {
            if !(1300..=1600).contains(&year) {
                return None;
            }
            Date::try_new_islamic_civil_date_with_calendar(year, month, day, IslamicCivil::new()).ok()?.to_iso()
        }
    };
    NaiveDate::from_ymd_opt(iso.year().number, iso.month().ordinal, iso.day_of_month().0)
}

/// Words that mark a line as giving the publication date.
/// The first `STRONG_CUES` are explicit ("Published"); the rest (a byline's
/// "by") only hint.
const PUBLISHED_CUES: &[&str] = &[
    "published",
    "posted",
    "veröffentlicht",
    "publié",
    "publicado",
    "pubblicato",
    "gepubliceerd",
    "yayınlanma",
    "dipublikasikan",
    "diterbitkan",
    "опубликовано",
    "publisert",
    "publicerad",
    "publiceret",
    "udgivet",
    "julkaistu",
    "opublikowano",
    "objavljeno",
    "date:",
    "datum:",
    "fecha:",
    "data:",
    "by ",
    "von ",
    "par ",
    "por ",
];
const STRONG_CUES: usize = 18;
const UPDATED_CUES: &[&str] = &[
    "updated",
    "aktualisiert",
    "mis à jour",
    "modifié",
    "actualizado",
    "aggiornato",
    "modifica",
    "atualizado",
    "güncelleme",
    "diperbarui",
    "обновлено",
    "oppdatert",
    "uppdaterad",
    "opdateret",
    "last modified",
];

/// The dates stage.
pub struct DateExtractor {
    config: DatesConfig,
    month_day_year: Regex,
    day_month_year: Regex,
    iso: Regex,
    numeric: Regex,
    year_first: Regex,
    cjk: Regex,
    month_year: Regex,
    short_year: Regex,
    relative: Regex,
    other_calendar: Regex,
    months: HashMap<&'static str, u32>,
}

/// A date as parsed, before year resolution.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Parsed {
    year: Option<i32>,
    month: u32,
    day: Option<u32>,
    weekday: Option<chrono::Weekday>,
}

struct Found {
    start: usize,
    end: usize,
    parsed: Parsed,
    /// Lower wins when two matches overlap.
    priority: u8,
}

impl DateExtractor {
    /// Compiles the patterns.
    pub fn new(config: DatesConfig) -> DateExtractor {
        let mut names: Vec<&str> = MONTHS.iter().map(|(n, _)| *n).collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.chars().count()));
        names.dedup();
        let month = names.iter().map(|n| regex::escape(n)).collect::<Vec<_>>().join("|");
        // Roomy lazy-DFA caches: the month alternations are large.
        let r =
            |p: String| regex::RegexBuilder::new(&p).dfa_size_limit(32 << 20).size_limit(32 << 20).build().expect("date pattern");
        DateExtractor {
            // No Unicode `\b` in these patterns: it makes the regex engine
            // leave its DFA on non-ASCII text. Word boundaries around names
            // are checked in code (`word_bounded`), around digits with ASCII `\b`.
            month_day_year: r(format!(
                r"(?i)(?:(?P<wd>{WEEKDAYS})\.?,?\s+)?(?P<m>{month})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?-u:\b)(?:,?\s+(?P<y>(?:19|20)\d{{2}})(?-u:\b))?"
            )),
            day_month_year: r(format!(
                r"(?i)(?:(?P<wd>{WEEKDAYS})\.?,?\s+)?(?-u:\b)(?P<d>\d{{1,2}})(?:st|nd|rd|th|\.|º)?\s+(?:de\s+|of\s+)?(?P<m>{month})\.?(?:,?\s+(?:de\s+)?(?P<y>(?:19|20)\d{{2}})(?-u:\b))?"
            )),
            iso: r(r"(?-u:\b)(?P<y>(?:19|20)\d{2})-(?P<m>\d{2})-(?P<d>\d{2})".into()),
            numeric: r(
                r"(?-u:\b)(?P<a>\d{1,2})(?P<sep>[./-]) ?(?P<b>\d{1,2})(?P<sep2>[./-]) ?(?P<y>(?:19|20)\d{2})(?-u:\b)".into()
            ),
            year_first: r(r"(?-u:\b)(?P<y>(?:19|20)\d{2})(?:/|\.\s?)(?P<m>\d{1,2})(?:/|\.\s?)(?P<d>\d{1,2})(?-u:\b)".into()),
            cjk: r(r"(?P<y>(?:19|20)\d{2})\s?[年년]\s?(?P<m>\d{1,2})\s?[月월]\s?(?P<d>\d{1,2})\s?[日일]".into()),
            month_year: r(format!(r"(?i)(?P<m>{month})\.?,?\s+(?:de\s+)?(?P<y>(?:19|20)\d{{2}})(?-u:\b)")),
            short_year: r(r"(?-u:\b)(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{2})(?-u:\b)".into()),
            other_calendar: r(format!(
                r"(?i)(?-u:\b)(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m>{})\s*,?\s+(?P<y>\d{{4}})(?:\s*(?:AM|AH|SH|A\.H\.|هـ|ه\.ش))?(?-u:\b)?",
                OTHER_MONTHS.iter().map(|(n, _, _)| regex::escape(n)).collect::<Vec<_>>().join("|")
            )),
            relative: r(r"(?i)(?:(?:last|on|this past) (?P<wd>monday|tuesday|wednesday|thursday|friday|saturday|sunday)|(?P<n>\d{1,2}|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve) (?P<unit>days?|weeks?|months?|years?) ago|yesterday|today|tomorrow|last (?:month|year)|(?:earlier |later )?this (?:month|year)|next (?:month|year))(?-u:\b)".to_string()),
            months: MONTHS.iter().copied().collect(),
            config,
        }
    }

    fn month_of(&self, name: &str) -> Option<u32> {
        self.months.get(name.to_lowercase().trim_end_matches('.')).copied()
    }

    /// Every date expression of `text`. Every pattern needs a digit, so only
    /// lines with one are searched (most body lines have none).
    fn find_all(&self, text: &str) -> Vec<Found> {
        let mut found = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive('\n') {
            if line.bytes().any(|b| b.is_ascii_digit()) {
                found.extend(self.find_in_line(line).into_iter().map(|mut f| {
                    f.start += offset;
                    f.end += offset;
                    f
                }));
            }
            offset += line.len();
        }
        found
    }

    fn find_in_line(&self, text: &str) -> Vec<Found> {
        let mut found = Vec::new();
        let num = |c: &Captures, n: &str| c.name(n).and_then(|m| m.as_str().parse::<u32>().ok());
        let weekday = |c: &Captures| c.name("wd").and_then(|m| parse_weekday(m.as_str()));
        for c in self.iso.captures_iter(text) {
            // "2021-05-31T10:00" is a date; "2021-05-315" is not.
            if text[c.get(0).expect("match").end()..].starts_with(|ch: char| ch.is_ascii_digit()) {
                continue;
            }
            let (y, m, d) = (num(&c, "y"), num(&c, "m"), num(&c, "d"));
            push(&mut found, &c, 0, y.map(|y| y as i32), m, d, None);
        }
        for c in self.cjk.captures_iter(text) {
            push(&mut found, &c, 0, num(&c, "y").map(|y| y as i32), num(&c, "m"), num(&c, "d"), None);
        }
        for c in self.year_first.captures_iter(text) {
            push(&mut found, &c, 1, num(&c, "y").map(|y| y as i32), num(&c, "m"), num(&c, "d"), None);
        }
        for c in self.numeric.captures_iter(text) {
            if c["sep"] != c["sep2"] {
                continue;
            }
            let (a, b) = (num(&c, "a").unwrap_or(0), num(&c, "b").unwrap_or(0));
            let (d, m) = if a > 12 {
                (a, b)
            } else if b > 12 {
                (b, a)
            } else if self.config.day_first {
                (a, b)
            } else {
                (b, a)
            };
            push(&mut found, &c, 1, num(&c, "y").map(|y| y as i32), Some(m), Some(d), None);
        }
        for c in self.month_day_year.captures_iter(text) {
            if !word_bounded(text, &c) {
                continue;
            }
            let m = self.month_of(&c["m"]);
            // "May 5" is a date; "may 5" in "they may 5..." is not: a lone
            // ambiguous month name needs a capital letter.
            if c["m"].eq_ignore_ascii_case("may") && !c["m"].starts_with('M') {
                continue;
            }
            push(&mut found, &c, 2, num(&c, "y").map(|y| y as i32), m, num(&c, "d"), weekday(&c));
        }
        for c in self.day_month_year.captures_iter(text) {
            if !word_bounded(text, &c) {
                continue;
            }
            let m = self.month_of(&c["m"]);
            if c.name("y").is_none() && c["m"].chars().count() <= 3 {
                continue; // "5 mar" without a year is too weak
            }
            push(&mut found, &c, 2, num(&c, "y").map(|y| y as i32), m, num(&c, "d"), weekday(&c));
        }
        for c in self.month_year.captures_iter(text) {
            if !word_bounded(text, &c) {
                continue;
            }
            if c["m"].eq_ignore_ascii_case("may") && !c["m"].starts_with('M') {
                continue;
            }
            push(&mut found, &c, 3, num(&c, "y").map(|y| y as i32), self.month_of(&c["m"]), None, None);
        }
        // Keep the best of overlapping matches: most specific, then longest.
        found.sort_by_key(|f| (f.priority, usize::MAX - (f.end - f.start), f.start));
        let mut kept: Vec<Found> = Vec::new();
        for f in found {
            if kept.iter().all(|k| f.end <= k.start || f.start >= k.end) {
                kept.push(f);
            }
        }
        kept.sort_by_key(|f| f.start);
        kept
    }

    /// Every date in `text`, with years of partial dates resolved against `context_year`.
    pub fn mentions(&self, text: &str, context_year: Option<i32>) -> Vec<DateMention> {
        let found = self.find_all(text);
        let context_year = context_year.or_else(|| most_common_year(&found));
        let mut out: Vec<DateMention> = found
            .into_iter()
            .filter_map(|f| {
                let value = normalise(f.parsed, context_year)?;
                Some(DateMention { text: text[f.start..f.end].to_string(), value, start: f.start, end: f.end })
            })
            .collect();
        for m in self.other_calendar_mentions(text) {
            if out.iter().all(|o| m.end <= o.start || m.start >= o.end) {
                out.push(m);
            }
        }
        out.sort_by_key(|m| m.start);
        out
    }

    /// Hebrew ("15 Heshvan 5782"), Persian ("1 Farvardin 1402") and Hijri
    /// ("10 Muharram 1445") dates, converted to ISO.
    pub fn other_calendar_mentions(&self, text: &str) -> Vec<DateMention> {
        let mut out = Vec::new();
        for c in self.other_calendar.captures_iter(text) {
            let whole = c.get(0).expect("match");
            let name = c["m"].to_lowercase();
            let Some(&(spelled, calendar, month)) = OTHER_MONTHS.iter().find(|(n, _, _)| n.to_lowercase() == name) else {
                continue;
            };
            let (Ok(day), Ok(year)) = (c["d"].parse::<u8>(), c["y"].parse::<i32>()) else { continue };
            let Some(date) = other_calendar_to_iso(calendar, year, month, day, spelled == "Adar II") else { continue };
            out.push(DateMention {
                text: whole.as_str().trim_end().to_string(),
                value: date.format("%Y-%m-%d").to_string(),
                start: whole.start(),
                end: whole.start() + whole.as_str().trim_end().len(),
            });
        }
        out
    }

    /// Relative expressions ("yesterday", "last Monday", "two years ago",
    /// "earlier this month", "on Tuesday") resolved against `anchor`, the
    /// publication date. News convention: a bare weekday is the most recent
    /// one on or before the report's date.
    pub fn relative_mentions(&self, text: &str, anchor: NaiveDate) -> Vec<DateMention> {
        use chrono::Months;
        let mut out = Vec::new();
        for c in self.relative.captures_iter(text) {
            let whole = c.get(0).expect("match");
            let before = text[..whole.start()].chars().next_back();
            if before.is_some_and(char::is_alphanumeric) {
                continue;
            }
            let lower = whole.as_str().to_lowercase();
            let day = |d: NaiveDate| Some(d.format("%Y-%m-%d").to_string());
            let month = |d: NaiveDate| Some(d.format("%Y-%m").to_string());
            let value = if let Some(wd) = c.name("wd").and_then(|m| parse_weekday(m.as_str())) {
                // "last Monday" / "on Monday": back to the weekday, never the anchor
                // day itself for "last".
                let strict = lower.starts_with("last");
                let mut d = anchor;
                if strict {
                    d -= chrono::Duration::days(1);
                }
                while d.weekday() != wd {
                    d -= chrono::Duration::days(1);
                }
                day(d)
            } else if let Some(n) = c.name("n") {
                let n = parse_count(n.as_str());
                let unit = c.name("unit").map(|u| u.as_str().to_lowercase()).unwrap_or_default();
                match (n, unit.trim_end_matches('s')) {
                    (Some(n), "day") => day(anchor - chrono::Duration::days(n as i64)),
                    (Some(n), "week") => day(anchor - chrono::Duration::weeks(n as i64)),
                    (Some(n), "month") => anchor.checked_sub_months(Months::new(n)).and_then(month),
                    (Some(n), "year") => Some(format!("{:04}", anchor.year() - n as i32)),
                    _ => None,
                }
            } else {
                match lower.as_str() {
                    "yesterday" => day(anchor - chrono::Duration::days(1)),
                    "today" => day(anchor),
                    "tomorrow" => day(anchor + chrono::Duration::days(1)),
                    "last month" => anchor.checked_sub_months(Months::new(1)).and_then(month),
                    "last year" => Some(format!("{:04}", anchor.year() - 1)),
                    "this month" | "earlier this month" | "later this month" => month(anchor),
                    "this year" | "earlier this year" | "later this year" => Some(format!("{:04}", anchor.year())),
                    "next month" => anchor.checked_add_months(Months::new(1)).and_then(month),
                    "next year" => Some(format!("{:04}", anchor.year() + 1)),
                    _ => None,
                }
            };
            if let Some(value) = value {
                out.push(DateMention { text: whole.as_str().to_string(), value, start: whole.start(), end: whole.end() });
            }
        }
        out
    }

    /// The publication date: from datelines and bylines around the start of
    /// the article in the raw text. `body_start` is the byte offset in `raw`
    /// where the cleaned text begins (None: unknown, search the top).
    ///
    /// Where the article starts matters more than where the file starts:
    /// menus push the dateline hundreds of lines down, and the first lines
    /// of a page often carry its "today" date instead.
    pub fn published(&self, raw: &str, body_start: Option<usize>, today: NaiveDate) -> Option<Published> {
        let lines: Vec<(usize, &str)> = raw
            .split_inclusive('\n')
            .scan(0usize, |off, l| {
                let start = *off;
                *off += l.len();
                Some((start, l.trim()))
            })
            .filter(|(_, l)| !l.is_empty())
            .collect();
        let body_line = body_start.map(|b| lines.iter().position(|(off, _)| *off >= b).unwrap_or(lines.len()));
        let window = self.config.header_lines;
        let mut best: Option<(f64, NaiveDate, &'static str)> = None;
        for (index, &(_, line)) in lines.iter().enumerate() {
            // Distance from the article's start, in lines (negative: before it).
            let position = match body_line {
                Some(b) if index + window >= b && index <= b + 8 => index as f64 - b as f64,
                _ if index < 12 => -(window as f64), // the page head: weakest place
                _ => continue,
            };
            let words = line.split_whitespace().count();
            if words > self.config.dateline_max_words {
                continue;
            }
            let lower = line.to_lowercase();
            let cue = PUBLISHED_CUES.iter().any(|c| lower.contains(c));
            // Inside the article only a dateline or byline counts: a date in a
            // photo caption or a sentence is an event's date.
            if position >= 0.0 && words > 8 && !cue {
                continue;
            }
            let updated = UPDATED_CUES.iter().any(|c| lower.contains(c));
            for f in self.find_all(line).into_iter().chain(self.find_short_year(line)) {
                let (Some(year), Some(day)) = (f.parsed.year, f.parsed.day) else { continue };
                let Some(date) = NaiveDate::from_ymd_opt(year, f.parsed.month, day) else { continue };
                if date > today + chrono::Duration::days(1) {
                    continue; // a future date is no publication date
                }
                let mut score = if position < 0.0 { 1.0 + position * 0.015 } else { 0.85 - position * 0.05 };
                let source = if cue && !updated {
                    score += 1.0;
                    "byline"
                } else if words <= 8 {
                    score += 0.5;
                    "dateline"
                } else {
                    "inferred"
                };
                if updated && !cue {
                    score -= 0.6;
                }
                if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                    best = Some((score, date, source));
                }
            }
        }
        if best.is_none() {
            // Nothing near the article's start (its start may be misplaced,
            // or the site prints the date under the article): first a line
            // with a publication cue anywhere, then the first short line that
            // is nothing but a date.
            let first_date = |line: &str| {
                self.find_all(line).into_iter().chain(self.find_short_year(line)).find_map(|f| {
                    let date = NaiveDate::from_ymd_opt(f.parsed.year?, f.parsed.month, f.parsed.day?)?;
                    (date <= today + chrono::Duration::days(1)).then_some(date)
                })
            };
            let cued = lines.iter().find_map(|&(_, line)| {
                let lower = line.to_lowercase();
                let cue = PUBLISHED_CUES.iter().take(STRONG_CUES).any(|c| lower.contains(c));
                (cue && line.split_whitespace().count() <= 12).then(|| first_date(line)).flatten().map(|d| (0.3, d, "byline"))
            });
            best = cued.or_else(|| {
                lines.iter().find_map(|&(_, line)| {
                    (line.split_whitespace().count() <= 12).then(|| first_date(line)).flatten().map(|d| (0.2, d, "inferred"))
                })
            });
        }
        best.map(|(score, date, source)| Published {
            date: date.format("%Y-%m-%d").to_string(),
            source: source.to_string(),
            confidence: (0.5 + score / 4.0).clamp(0.1, 0.95),
        })
    }

    /// `05.08.24`: two-digit years, trusted only in datelines.
    fn find_short_year(&self, line: &str) -> Vec<Found> {
        let mut found = Vec::new();
        for c in self.short_year.captures_iter(line) {
            let num = |n: &str| c.name(n).and_then(|m| m.as_str().parse::<u32>().ok());
            let (Some(d), Some(m), Some(y)) = (num("d"), num("m"), num("y")) else { continue };
            push(&mut found, &c, 1, Some(2000 + y as i32), Some(m), Some(d), None);
        }
        found
    }
}

/// Where the cleaned text starts in the raw text: the article's top. The
/// first paragraph may also appear earlier (a headline repeated in a menu),
/// so take its last occurrence before the second paragraph.
fn body_start(raw: &str, text: &str) -> Option<usize> {
    let mut paras = text.split("\n\n").map(|p| p.trim()).filter(|p| !p.is_empty());
    let probe = |p: &str| -> String { p.chars().take(60).collect() };
    let first = probe(paras.next()?);
    let second = paras.next().map(probe);
    let limit = second.and_then(|p| raw.find(p.as_str())).unwrap_or(raw.len());
    raw[..limit].rfind(first.as_str()).or_else(|| raw.find(first.as_str()))
}

fn push(
    found: &mut Vec<Found>,
    c: &Captures,
    priority: u8,
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    weekday: Option<chrono::Weekday>,
) {
    let Some(month) = month.filter(|m| (1..=12).contains(m)) else { return };
    if day.is_some_and(|d| !(1..=31).contains(&d)) {
        return;
    }
    let whole = c.get(0).expect("match");
    found.push(Found { start: whole.start(), end: whole.end(), parsed: Parsed { year, month, day, weekday }, priority });
}

/// The match starts at a word start, and the month name ends at a word end
/// ("Mayo" is not "May" + "o"; "Summarch 5" holds no date).
fn word_bounded(text: &str, c: &Captures) -> bool {
    let whole = c.get(0).expect("match");
    let m = c.name("m").expect("month group");
    let before = text[..whole.start()].chars().next_back();
    let after = text[m.end()..].chars().next();
    !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphabetic)
}

fn parse_count(s: &str) -> Option<u32> {
    const WORDS: [&str; 13] =
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
    let s = s.to_lowercase();
    match s.as_str() {
        "a" | "an" => Some(1),
        _ => s.parse().ok().or_else(|| WORDS.iter().position(|w| *w == s).map(|n| n as u32)),
    }
}

fn parse_weekday(s: &str) -> Option<chrono::Weekday> {
    use chrono::Weekday::*;
    let s: String = s.to_lowercase().chars().take(3).collect();
    Some(match s.as_str() {
        "mon" | "lun" => Mon,
        "tue" | "die" | "mar" => Tue,
        "wed" | "mit" | "mer" | "mié" => Wed,
        "thu" | "don" | "jeu" | "jue" => Thu,
        "fri" | "fre" | "ven" | "vie" => Fri,
        "sat" | "sam" | "sáb" => Sat,
        "sun" | "son" | "dim" | "dom" => Sun,
        _ => return None,
    })
}

fn most_common_year(found: &[Found]) -> Option<i32> {
    let mut counts: HashMap<i32, usize> = HashMap::new();
    for f in found {
        if let Some(y) = f.parsed.year {
            *counts.entry(y).or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|(y, c)| (*c, *y)).map(|(y, _)| y)
}

/// ISO value of a parsed date. A day and month without a year take the year
/// from context; with a weekday, the year near the context where the weekday fits.
fn normalise(p: Parsed, context_year: Option<i32>) -> Option<String> {
    let year = match (p.year, p.day) {
        (Some(y), _) => y,
        (None, Some(day)) => match (p.weekday, context_year) {
            (Some(wd), Some(cy)) => [0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6]
                .iter()
                .map(|o| cy + o)
                .find(|y| NaiveDate::from_ymd_opt(*y, p.month, day).is_some_and(|d| d.weekday() == wd))?,
            (None, Some(cy)) => cy,
            (_, None) => return Some(format!("--{:02}-{:02}", p.month, day)),
        },
        (None, None) => return None,
    };
    match p.day {
        Some(d) => NaiveDate::from_ymd_opt(year, p.month, d).map(|d| d.format("%Y-%m-%d").to_string()),
        None => Some(format!("{year:04}-{:02}", p.month)),
    }
}

/// A text with Arabic-Indic ("١٥") and Persian ("۱۵") digits read as Latin
/// ones, so every pattern finds dates written in them; spans map back to the
/// original text. Borrowed when there are none (the common case).
struct LatinDigits<'a> {
    text: std::borrow::Cow<'a, str>,
    /// Byte offset in the original of each byte of `text` (and of its end),
    /// when digits were replaced.
    original_at: Option<Vec<usize>>,
}

impl<'a> LatinDigits<'a> {
    fn of(text: &'a str) -> LatinDigits<'a> {
        let digit = |c: char| match c {
            '\u{0660}'..='\u{0669}' => Some((c as u32 - 0x0660) as u8),
            '\u{06F0}'..='\u{06F9}' => Some((c as u32 - 0x06F0) as u8),
            _ => None,
        };
        if !text.chars().any(|c| digit(c).is_some()) {
            return LatinDigits { text: text.into(), original_at: None };
        }
        let mut out = String::with_capacity(text.len());
        let mut at = Vec::with_capacity(text.len() + 1);
        for (i, c) in text.char_indices() {
            match digit(c) {
                Some(d) => {
                    out.push((b'0' + d) as char);
                    at.push(i);
                }
                None => {
                    out.push(c);
                    at.extend((0..c.len_utf8()).map(|k| i + k));
                }
            }
        }
        at.push(text.len());
        LatinDigits { text: out.into(), original_at: Some(at) }
    }

    /// Moves a mention found in `self.text` back onto the original text.
    fn restore(&self, m: &mut DateMention, original: &str) {
        if let Some(at) = &self.original_at {
            m.start = at[m.start];
            m.end = at[m.end];
            m.text = original[m.start..m.end].to_string();
        }
    }
}

#[async_trait]
impl Stage for DateExtractor {
    fn name(&self) -> &str {
        "dates"
    }

    async fn process(&self, doc: &mut Document) -> Result<(), StageError> {
        let today = chrono::Utc::now().date_naive();
        let (raw, text) = (LatinDigits::of(&doc.raw), LatinDigits::of(&doc.text));
        let published = self.published(&raw.text, body_start(&raw.text, &text.text), today);
        let context_year = published.as_ref().and_then(|p| p.date[..4].parse().ok());
        let mut mentions = self.mentions(&text.text, context_year);
        if let Some(anchor) = published.as_ref().and_then(|p| NaiveDate::parse_from_str(&p.date, "%Y-%m-%d").ok()) {
            let relative: Vec<DateMention> = self
                .relative_mentions(&text.text, anchor)
                .into_iter()
                .filter(|r| mentions.iter().all(|m| r.end <= m.start || r.start >= m.end))
                .collect();
            mentions.extend(relative);
            mentions.sort_by_key(|m| m.start);
        }
        for m in &mut mentions {
            text.restore(m, &doc.text);
        }
        let published_after = if published.is_none() {
            let today_iso = today.format("%Y-%m-%d").to_string();
            mentions.iter().filter(|m| m.value.len() == 10 && m.value <= today_iso).map(|m| m.value.clone()).max()
        } else {
            None
        };
        if published.is_none() {
            doc.warn("dates", "no publication date found near the top of the report");
        }
        doc.dates = Some(Dates { published, published_after, mentions });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str, year: Option<i32>) -> Vec<String> {
        DateExtractor::new(DatesConfig::default()).mentions(text, year).into_iter().map(|m| m.value).collect()
    }

    #[test]
    fn table_of_expressions() {
        let cases: &[(&str, &str)] = &[
            ("on May 31, 2021, Izadi sent", "2021-05-31"),
            ("31 May 2021", "2021-05-31"),
            ("2021-05-31T10:00", "2021-05-31"),
            ("31/05/2021", "2021-05-31"),
            ("Aug. 2, 2017", "2017-08-02"),
            ("December 2017", "2017-12"),
            ("am 28. April 2023", "2023-04-28"),
            ("le 3 mars 2022", "2022-03-03"),
            ("28 de abril de 2023", "2023-04-28"),
            ("2023年4月28日", "2023-04-28"),
            ("28 Nisan 2023", "2023-04-28"),
            ("1 мая 2020", "2020-05-01"),
            ("Jun 04, 2026", "2026-06-04"),
            ("October 20th, 2017", "2017-10-20"),
        ];
        for (text, want) in cases {
            assert_eq!(
                values(text, None),
                vec![want.to_string()],
                "{text}: {:?}",
                DateExtractor::new(DatesConfig::default()).find_all(text).len()
            );
        }
    }

    #[test]
    fn weekday_fixes_the_year() {
        // Monday, Aug. 28 was a Monday in 2017, near the context year 2018.
        assert_eq!(values("on Monday, Aug. 28: “Iran is", Some(2018)), vec!["2017-08-28"]);
        assert_eq!(values("on Aug. 28 the", Some(2018)), vec!["2018-08-28"]);
    }

    #[test]
    fn relative_expressions_resolve_against_the_publication_date() {
        let d = DateExtractor::new(DatesConfig::default());
        // Wednesday 2020-07-15.
        let anchor = NaiveDate::from_ymd_opt(2020, 7, 15).unwrap();
        let got = |t: &str| d.relative_mentions(t, anchor).into_iter().map(|m| m.value).collect::<Vec<_>>();
        assert_eq!(got("He said yesterday that"), vec!["2020-07-14"]);
        assert_eq!(got("met last Monday in Doha"), vec!["2020-07-13"]);
        assert_eq!(got("reported on Wednesday that"), vec!["2020-07-15"]);
        assert_eq!(got("two years ago the group"), vec!["2018"]);
        assert_eq!(got("3 days ago"), vec!["2020-07-12"]);
        assert_eq!(got("earlier this month"), vec!["2020-07"]);
        assert_eq!(got("last month"), vec!["2020-06"]);
        assert!(got("the Todayshow and yesterdays").is_empty());
    }

    #[test]
    fn other_calendars_convert_to_iso() {
        let d = DateExtractor::new(DatesConfig::default());
        let got = |t: &str| d.other_calendar_mentions(t).into_iter().map(|m| m.value).collect::<Vec<_>>();
        // Checked against published calendar tables.
        assert_eq!(got("Wednesday, October 20th | 15 Heshvan 5782"), vec!["2021-10-21"]);
        assert_eq!(got("on 1 Farvardin 1402 the new year"), vec!["2023-03-21"]);
        assert_eq!(got("1 Muharram 1445 AH"), vec!["2023-07-19"]);
        assert_eq!(got("14 Nisan 5784"), vec!["2024-04-22"]);
        assert!(got("Haj Ramadan said").is_empty());
    }

    #[test]
    fn arabic_and_persian_digits_are_read() {
        let d = DateExtractor::new(DatesConfig::default());
        let doc_of = |t: &str| {
            let mut doc = Document::from_text("a.txt", t);
            doc.text = t.to_string();
            doc
        };
        for (text, value, written) in [
            ("گزارش ۱ فروردین ۱۴۰۲ منتشر شد", "2023-03-21", "۱ فروردین ۱۴۰۲"),
            ("نشر في ١٥ يناير ٢٠٢٣ في بيروت", "2023-01-15", "١٥ يناير ٢٠٢٣"),
            ("وقعت في ١ محرم ١٤٤٥ هـ", "2023-07-19", "١ محرم ١٤٤٥"),
        ] {
            let mut doc = doc_of(text);
            block_on(d.process(&mut doc)).unwrap();
            let m = &doc.dates.as_ref().unwrap().mentions;
            assert_eq!(m.iter().map(|m| m.value.as_str()).collect::<Vec<_>>(), vec![value], "{text}");
            assert_eq!(&text[m[0].start..m[0].end], m[0].text);
            assert!(m[0].text.starts_with(written), "{:?}", m[0].text);
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
    }

    #[test]
    fn no_false_dates() {
        assert_eq!(values("miércoles, 5 de abril de 2023", None), vec!["2023-04-05"]);
        for text in ["100M", "73 20", "2,000 operatives", "call 555-1234-5678", "won 3-1 on", "they may 5 times", "version 1.2.3"]
        {
            assert!(values(text, Some(2020)).is_empty(), "{text}: {:?}", values(text, Some(2020)));
        }
    }

    #[test]
    fn publication_date_skips_header_today_line() {
        let d = DateExtractor::new(DatesConfig::default());
        let raw = "Wednesday, October 20th | 15 Heshvan 5782\n\nJuly 19, 2020 3:47 am\n\nHamas Courts Iran\n\nIn a July 6, 2020 article it said";
        let today = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let body = raw.find("In a July").unwrap();
        assert_eq!(d.published(raw, Some(body), today).unwrap().date, "2020-07-19");
        assert!(d.published("Title\n\nNothing dated here.", None, today).is_none());
        assert!(d.published("Title\n\nJuly 19, 2031", None, today).is_none(), "future dates are not publication dates");
        // Deep under a menu, right above the article.
        let menu: String = (0..80).map(|i| format!("Menu item {i}\n")).collect();
        let raw = format!("Headline\n{menu}Published Jun 04, 2026 • 2 minute read\nThe body starts here and goes on.");
        let body = raw.find("The body").unwrap();
        let later = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert_eq!(d.published(&raw, Some(body), later).unwrap().date, "2026-06-04");
        assert_eq!(d.published("Headline\n05.08.24 10:15\nBody text", Some(20), today).unwrap().date, "2024-08-05");
    }
}
