//! Reading a file and turning its bytes into text.
//!
//! Order of decisions: BOM (UTF-8, UTF-16LE/BE) > UTF-16 without BOM (NUL
//! in every other byte) > valid UTF-8 > binary (NUL or many control bytes)
//! > legacy encoding guessed by `chardetng` and decoded by `encoding_rs`.

use crate::document::{Decoding, Source};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// Why a file could not become a document. `reason` is a stable code for
/// machines; `message` says what happened and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Stable code: `vanished`, `unreadable`, `too_large`, `empty`, `binary`,
    /// `outside_watch_dir`, `not_a_file`, `stage_error`.
    pub reason: &'static str,
    /// For a person.
    pub message: String,
}

impl Failure {
    fn new(reason: &'static str, message: impl Into<String>) -> Failure {
        Failure { reason, message: message.into() }
    }
}

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Modification time in nanoseconds since the epoch, 0 when unknown.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// Reads `path` (at most `max_bytes`) and decodes it. `root`, when given, is
/// the watch folder: a path that resolves outside it (a symlink out) fails.
pub fn read_document(path: &Path, root: Option<&Path>, max_bytes: u64) -> Result<(Source, Decoding, String), Failure> {
    let display = path.display();
    if let Some(root) = root {
        match (path.canonicalize(), root.canonicalize()) {
            (Ok(real), Ok(root)) if !real.starts_with(&root) => {
                return Err(Failure::new(
                    "outside_watch_dir",
                    format!(
                        "{display} resolves to {} outside the watch folder; copy the file in instead of linking it",
                        real.display()
                    ),
                ))
            }
            (Err(e), _) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::new(
                    "vanished",
                    format!("{display} was removed (or is a dangling link) before it could be read"),
                ))
            }
            _ => {}
        }
    }
    let mut file = std::fs::File::open(path).map_err(|e| io_failure(path, e))?;
    let meta = file.metadata().map_err(|e| io_failure(path, e))?;
    if !meta.is_file() {
        return Err(Failure::new("not_a_file", format!("{display} is not a regular file")));
    }
    if meta.len() > max_bytes {
        return Err(Failure::new(
            "too_large",
            format!(
                "{display} is {} bytes, over the limit of {max_bytes} (watch.max_file_bytes); raise the limit or split the file",
                meta.len()
            ),
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // Read one byte past the limit so a file that grew since stat is caught.
    file.by_ref().take(max_bytes + 1).read_to_end(&mut bytes).map_err(|e| io_failure(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(Failure::new(
            "too_large",
            format!("{display} is over the limit of {max_bytes} bytes (watch.max_file_bytes)"),
        ));
    }
    let source =
        Source { path: path.to_path_buf(), size: bytes.len() as u64, mtime_ns: mtime_ns(&meta), sha256: sha256_hex(&bytes) };
    let (text, decoding) = decode(&bytes).map_err(|reason| match reason {
        "empty" => Failure::new("empty", format!("{display} is empty (or only whitespace); nothing to process")),
        _ => Failure::new("binary", format!("{display} looks like a binary file, not text; export the report as .txt")),
    })?;
    Ok((source, decoding, text))
}

fn io_failure(path: &Path, e: std::io::Error) -> Failure {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            Failure::new("vanished", format!("{} was removed before it could be read", path.display()))
        }
        std::io::ErrorKind::PermissionDenied => Failure::new(
            "unreadable",
            format!("{} cannot be read (permission denied); make it readable by the gleaner user", path.display()),
        ),
        _ => Failure::new("unreadable", format!("{} cannot be read: {e}", path.display())),
    }
}

/// Decodes bytes to text. Errors are `"empty"` or `"binary"`.
pub fn decode(bytes: &[u8]) -> Result<(String, Decoding), &'static str> {
    let (text, decoding) = if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (cow, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        (cow.into_owned(), Decoding { encoding: enc.name().to_string(), detected: false })
    } else if let Some(enc) = utf16_without_bom(bytes) {
        // Before the UTF-8 check: ASCII in UTF-16 is valid (NUL-ridden) UTF-8.
        let (cow, _) = enc.decode_without_bom_handling(bytes);
        (cow.into_owned(), Decoding { encoding: enc.name().to_string(), detected: true })
    } else if let Ok(s) = std::str::from_utf8(bytes) {
        (s.to_string(), Decoding { encoding: "UTF-8".into(), detected: false })
    } else {
        if looks_binary(bytes) {
            return Err("binary");
        }
        let mut detector = chardetng::EncodingDetector::new();
        detector.feed(bytes, true);
        let enc = detector.guess(None, true);
        let (cow, _, _) = enc.decode(bytes);
        (cow.into_owned(), Decoding { encoding: enc.name().to_string(), detected: true })
    };
    if text.trim().is_empty() {
        return Err("empty");
    }
    if control_ratio(&text) > 0.05 {
        return Err("binary");
    }
    Ok((text, decoding))
}

/// UTF-16 text without a BOM shows NUL in one byte of most ASCII characters.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    if bytes.len() < 4 || !bytes.len().is_multiple_of(2) {
        return None;
    }
    let pairs = bytes.len() / 2;
    let even_nuls = bytes.iter().step_by(2).filter(|&&b| b == 0).count();
    let odd_nuls = bytes.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    if odd_nuls * 10 > pairs * 6 && even_nuls * 20 < pairs {
        Some(encoding_rs::UTF_16LE)
    } else if even_nuls * 10 > pairs * 6 && odd_nuls * 20 < pairs {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

fn looks_binary(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(8192)];
    sample.contains(&0) || sample.iter().filter(|&&b| b < 0x09 || (0x0e..0x20).contains(&b)).count() * 20 > sample.len()
}

fn control_ratio(text: &str) -> f64 {
    let mut total = 0usize;
    let mut control = 0usize;
    for c in text.chars().take(20_000) {
        total += 1;
        if c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c') {
            control += 1;
        }
    }
    if total == 0 {
        0.0
    } else {
        control as f64 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(decode("Café".as_bytes()).unwrap().0, "Café");
        assert_eq!(decode(b"\xEF\xBB\xBFCaf\xC3\xA9").unwrap().0, "Café");
    }

    #[test]
    fn utf16_with_bom_and_without() {
        let mut le = vec![0xFF, 0xFE];
        for u in "Hamas — Iran".encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
        }
        assert_eq!(decode(&le).unwrap().0, "Hamas — Iran");
        let be: Vec<u8> = "Hello world, plain".encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        let (text, d) = decode(&be).unwrap();
        assert_eq!(text, "Hello world, plain");
        assert_eq!(d.encoding, "UTF-16BE");
    }

    #[test]
    fn windows_1252_is_detected() {
        let bytes = b"The minister\x92s statement \x93surprised\x94 everyone in Z\xfcrich and S\xe3o Paulo.";
        let (text, d) = decode(bytes).unwrap();
        assert!(text.contains("minister\u{2019}s"), "{text}");
        assert!(text.contains("Zürich"), "{text}");
        assert!(d.detected);
    }

    #[test]
    fn binary_and_empty_are_refused() {
        assert_eq!(decode(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x03\x00>\x00").unwrap_err(), "binary");
        assert_eq!(decode(b"  \n\t ").unwrap_err(), "empty");
        assert_eq!(decode(b"").unwrap_err(), "empty");
    }
}
