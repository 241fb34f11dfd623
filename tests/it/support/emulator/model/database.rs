//! The database under the emulated Keycloak: what its client columns compare and hold.

/// The database Keycloak keeps its realms in. The tests' Keycloaks run on the dev-file one;
/// `tests/keycloak/keycloak.sh mariadb` runs them on MariaDB, as many installations do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Database {
    /// H2 (`dev-file`): client ids compare exactly; a column's 255 characters are Java's
    /// (UTF-16 units: an emoji counts twice); a NUL character is stored.
    #[default]
    DevFile,
    /// MariaDB 10.11 with the database collation `utf8mb4_unicode_ci` (seen with Keycloak
    /// 26.7.4): client ids, redirect URIs and web origins compare without case, accents or
    /// trailing spaces (`cafe` is `Café`, 409 on a create); 255 characters are code points; the name, description and attribute
    /// values are `utf8mb3` (Keycloak's NVARCHAR columns), where a character past U+FFFF fails
    /// the write with 500; a NUL character is stored.
    MariaDb,
}

impl Database {
    /// Whether the database takes `a` and `b` for the same client id.
    pub fn same_id(self, a: &str, b: &str) -> bool {
        match self {
            Self::DevFile => a == b,
            Self::MariaDb => fold(a) == fold(b),
        }
    }

    /// Whether two of `values` are one to the database (a client's redirect URIs, its web
    /// origins: on MariaDB the create or update fails with 409).
    pub fn repeats<'a>(self, values: impl IntoIterator<Item = &'a String>) -> bool {
        let values: Vec<&String> = values.into_iter().collect();
        (values.iter().enumerate()).any(|(i, a)| values[..i].iter().any(|b| self.same_id(a, b)))
    }

    /// Whether a `VARCHAR(255)` column holds `value`.
    pub fn fits(self, value: &str) -> bool {
        match self {
            Self::DevFile => value.encode_utf16().count() <= 255,
            Self::MariaDb => value.chars().count() <= 255,
        }
    }

    /// Whether a national-character column (name, description, attribute value) holds `value`.
    pub fn holds_national(self, value: &str) -> bool {
        self == Self::DevFile || value.chars().all(|c| u32::from(c) <= 0xFFFF)
    }
}

/// `utf8mb4_unicode_ci`'s first level for the letters a test writes: case and Latin-1's
/// accents ignored, and trailing spaces (PAD SPACE).
fn fold(s: &str) -> String {
    let base = |c: char| match c {
        'à'..='å' => 'a',
        'ç' => 'c',
        'è'..='ë' => 'e',
        'ì'..='ï' => 'i',
        'ñ' => 'n',
        'ò'..='ö' => 'o',
        'ù'..='ü' => 'u',
        'ý' | 'ÿ' => 'y',
        c => c,
    };
    (s.trim_end_matches(' ').to_lowercase().chars())
        .map(base)
        .collect()
}
