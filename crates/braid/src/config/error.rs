//! Config file errors that say where and what: `wg0.conf:7: PublicKey: invalid base64 key`.
//! No error ever quotes a key or an unrecognised line (either may be a private key pasted in
//! the wrong place); other values are quoted to show what was read.

use core::fmt;

/// Which kind of section a key was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SectionKind {
    /// `[Interface]`.
    Interface,
    /// `[Peer]`.
    Peer,
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SectionKind::Interface => "[Interface]",
            SectionKind::Peer => "[Peer]",
        })
    }
}

/// What is wrong, without the where.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileErrorKind {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file, or its directory, could be changed by someone other than root and its owner
    /// (or is a symbolic link): its hooks run as root and its private key is trusted.
    #[error("refusing an unsafe file: {0}")]
    Unsafe(String),
    /// The file is not UTF-8 text.
    #[error("not UTF-8 text")]
    NotUtf8,
    /// The file name is not `<interface name>.conf` with a valid interface name.
    #[error("the file name must be an interface name (1-15 of a-z A-Z 0-9 _ = + . -) followed by .conf")]
    BadInterfaceName,
    /// A `Key = Value` line before any section header.
    #[error("setting outside of any [Interface] or [Peer] section")]
    OutsideSection,
    /// A `[Something]` header other than `[Interface]` or `[Peer]`.
    #[error("unknown section {0}")]
    UnknownSection(String),
    /// A line that is neither a section header nor `Key = Value`.
    #[error("expected a [Section] header or `Key = Value`")]
    NotKeyValue,
    /// A key that the section does not have.
    #[error("unknown key {} in {section}", key.as_deref().map_or_else(|| "(not shown: it may be a key)".to_owned(), |k| format!("`{k}`")))]
    UnknownKey {
        /// The section the line is in.
        section: SectionKind,
        /// The key as written (spaces removed); `None` when it does not look like a key name
        /// (longer than 32 characters or not all letters and digits), since a base64 key
        /// ending in `=` pasted on a line of its own reads as a key.
        key: Option<String>,
    },
    /// A known key with a value that does not parse.
    #[error("{key}: {problem}")]
    InvalidValue {
        /// The key, in its canonical spelling.
        key: &'static str,
        /// What is wrong with the value.
        problem: String,
    },
    /// No `[Interface]` section at all.
    #[error("no [Interface] section")]
    NoInterface,
    /// The `[Interface]` section (at the reported line) has no `PrivateKey`.
    #[error("[Interface] has no PrivateKey")]
    MissingPrivateKey,
    /// The `[Peer]` section at the reported line has no `PublicKey`.
    #[error("[Peer] has no PublicKey")]
    MissingPublicKey,
}

/// A config file error: the file, the 1-based line when there is one, and what is wrong.
#[derive(Debug)]
pub struct ConfigFileError {
    /// The file as the caller named it.
    pub file: String,
    /// The line the problem is on (for a missing key: the section's header line).
    pub line: Option<usize>,
    /// The problem.
    pub kind: ConfigFileErrorKind,
}

impl ConfigFileError {
    pub(crate) fn at(file: &str, line: usize, kind: ConfigFileErrorKind) -> Self {
        ConfigFileError { file: file.to_owned(), line: Some(line), kind }
    }

    pub(crate) fn whole_file(file: &str, kind: ConfigFileErrorKind) -> Self {
        ConfigFileError { file: file.to_owned(), line: None, kind }
    }
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file, line, self.kind),
            None => write!(f, "{}: {}", self.file, self.kind),
        }
    }
}

impl std::error::Error for ConfigFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ConfigFileErrorKind::Io(err) => Some(err),
            _ => None,
        }
    }
}
