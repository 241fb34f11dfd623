//! The URIs Keycloak's client validation accepts (pure). `DefaultClientValidationProvider`
//! parses a client's root URL, redirect URIs and (26.6 and later) post-logout redirect URIs with
//! `java.net.URI`, then refuses a `javascript` or `data` scheme, a fragment, and a root URL that
//! `URI.toURL` cannot open, with 400 `invalid_input`. The `url` crate reads more than
//! `java.net.URI` does (a space, `|`, `^`, `[` in a path, `%zz`), so the operator asks this
//! parser too before it sends a URI. The Admin API emulator uses the same checks, and the
//! random differential scenario holds them to a real Keycloak.
//!
//! The parser follows `java.net.URI.Parser` (RFC 2396 with Java's deviations: an empty
//! authority before a path, IPv6 literals per RFC 2732, visible non-ASCII characters wherever an
//! escape may stand, and an authority that is not a server taken as a registry name).

/// What Keycloak's validation says of one URI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UriRefusal {
    /// `java.net.URI` refuses it, or (a root URL) `toURL` cannot open it.
    Invalid,
    /// Its scheme is `javascript` or `data`.
    IllegalScheme,
    /// It has a `#fragment`.
    Fragment,
}

/// How one Keycloak release checks a URI field.
#[derive(Clone, Copy, Debug)]
pub struct UriCheck {
    /// The root URL and base URL: `toURL` must succeed (a scheme Java can open).
    pub openable: bool,
    /// A fragment is refused (all but the base URL).
    pub fragment: bool,
    /// The scheme compares without case (26.6 and later; before, `Javascript:` passed).
    pub scheme_any_case: bool,
}

/// `checkUri`: Keycloak's refusals of one URI, in its order (empty: accepted). Keycloak first
/// resolves a relative redirect URI (`/path`) by appending it to the root URL.
pub fn refusals(resolved: &str, check: UriCheck) -> Vec<UriRefusal> {
    if resolved.is_empty() {
        return Vec::new();
    }
    let Ok(parsed) = parse(resolved) else {
        return vec![UriRefusal::Invalid];
    };
    let mut out = Vec::new();
    let illegal = |s: &str| {
        ["javascript", "data"].iter().any(|bad| {
            if check.scheme_any_case {
                s.eq_ignore_ascii_case(bad)
            } else {
                s == *bad
            }
        })
    };
    if parsed.scheme.as_deref().is_some_and(illegal) {
        out.push(UriRefusal::IllegalScheme);
    }
    if check.fragment && parsed.fragment {
        out.push(UriRefusal::Fragment);
    }
    // `URI.toURL`: absolute, with a scheme the JDK has a handler for (the name compares
    // without case); only asked when nothing else was wrong.
    let openable = parsed.scheme.as_deref().is_some_and(|s| {
        ["http", "https", "ftp", "file", "mailto"]
            .iter()
            .any(|h| s.eq_ignore_ascii_case(h))
    });
    if check.openable && out.is_empty() && !openable {
        out.push(UriRefusal::Invalid);
    }
    out
}

/// What `java.net.URI` makes of a URI, as far as Keycloak looks.
#[derive(Debug, PartialEq, Eq)]
pub struct JavaUri {
    pub scheme: Option<String>,
    pub fragment: bool,
}

/// `new java.net.URI(uri)`: the parts Keycloak reads, or the position (in characters) where
/// Java stops.
pub fn parse(uri: &str) -> Result<JavaUri, usize> {
    Parser {
        s: uri.chars().collect(),
    }
    .parse()
}

/// A set of characters of RFC 2396's grammar: ASCII letters and digits (when `alnum`), the
/// characters of `chars`, and, when `escaped`, `%XX` and the visible non-ASCII characters.
#[derive(Clone, Copy)]
struct Set {
    alnum: bool,
    chars: &'static str,
    escaped: bool,
}

const fn set(alnum: bool, chars: &'static str, escaped: bool) -> Set {
    Set {
        alnum,
        chars,
        escaped,
    }
}

// unreserved = alphanum | "-_.!~*'()"; reserved = ";/?:@&=+$,[]" (RFC 2732 adds the brackets).
const URIC: Set = set(true, "-_.!~*'();/?:@&=+$,[]", true);
const PATH: Set = set(true, "-_.!~*'():@&=+$,;/", true);
const USERINFO: Set = set(true, "-_.!~*'();:&=+$,", true);
const REG_NAME: Set = set(true, "-_.!~*'()$,;:@&=+", true);
// Java scans a server with `%` allowed whenever the authority does not start with `]`.
const SERVER: Set = set(true, "-_.!~*'();:&=+$,@[]", true);
const SERVER_PERCENT: Set = set(true, "-_.!~*'();:&=+$,@[]%", true);
const SCHEME: Set = set(true, "+-.", false);
const DIGIT: Set = set(false, "0123456789", false);
const HEX: Set = set(false, "0123456789abcdefABCDEF", false);
const SCOPE_ID: Set = set(true, "_.", false);

/// Java's `Character.isSpaceChar` (Zs, Zl, Zp) on characters past ASCII.
fn is_space_char(c: char) -> bool {
    matches!(
        c,
        '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}' | '\u{2028}' | '\u{2029}'
    ) || matches!(c, '\u{202f}' | '\u{205f}' | '\u{3000}')
}

struct Parser {
    s: Vec<char>,
}

type Parsed<T> = Result<T, usize>;

impl Parser {
    fn at(&self, p: usize, c: char) -> bool {
        self.s.get(p) == Some(&c)
    }

    /// The first position from `start` holding one of `stop`, or `end`.
    fn until(&self, start: usize, end: usize, stop: &str) -> usize {
        (start..end)
            .find(|&p| stop.contains(self.s[p]))
            .unwrap_or(end)
    }

    /// [`Self::until`], but `None` when one of `err` comes first.
    fn until_unless(&self, start: usize, end: usize, err: &str, stop: &str) -> Option<usize> {
        let p = self.until(start, end, &format!("{err}{stop}"));
        (p == end || stop.contains(self.s[p])).then_some(p)
    }

    /// How far from `start` the characters are in `set`; a `%` that is no escape fails.
    fn scan(&self, start: usize, end: usize, set: Set) -> Parsed<usize> {
        let mut p = start;
        while p < end {
            let c = self.s[p];
            let plain = c.is_ascii()
                && c != '\0'
                && ((set.alnum && c.is_ascii_alphanumeric()) || set.chars.contains(c));
            if plain {
                p += 1;
            } else if set.escaped && c == '%' {
                let hex = |i: usize| self.s.get(i).is_some_and(char::is_ascii_hexdigit);
                if p + 3 > end || !hex(p + 1) || !hex(p + 2) {
                    return Err(p);
                }
                p += 3;
            } else if set.escaped && c as u32 > 128 && !is_space_char(c) && !c.is_control() {
                p += 1;
            } else {
                break;
            }
        }
        Ok(p)
    }

    fn check(&self, start: usize, end: usize, set: Set) -> Parsed<()> {
        match self.scan(start, end, set)? {
            p if p < end => Err(p),
            _ => Ok(()),
        }
    }

    fn parse(&self) -> Parsed<JavaUri> {
        let n = self.s.len();
        let mut scheme = None;
        let mut p = match self.until_unless(0, n, "/?#", ":") {
            Some(colon) if self.at(colon, ':') => {
                if colon == 0 || !self.s[0].is_ascii_alphabetic() {
                    return Err(0);
                }
                self.check(1, colon, SCHEME)?;
                scheme = Some(self.s[..colon].iter().collect());
                if self.at(colon + 1, '/') {
                    self.hierarchical(colon + 1)?
                } else {
                    let q = self.until(colon + 1, n, "#");
                    if q <= colon + 1 {
                        return Err(colon + 1);
                    }
                    self.check(colon + 1, q, URIC)?;
                    q
                }
            }
            _ => self.hierarchical(0)?,
        };
        let fragment = self.at(p, '#');
        if fragment {
            self.check(p + 1, n, URIC)?;
            p = n;
        }
        if p < n {
            return Err(p);
        }
        Ok(JavaUri { scheme, fragment })
    }

    fn hierarchical(&self, start: usize) -> Parsed<usize> {
        let n = self.s.len();
        let mut p = start;
        if self.at(p, '/') && self.at(p + 1, '/') {
            p += 2;
            let q = self.until(p, n, "/?#");
            if q > p {
                self.authority(p, q)?;
                p = q;
            } else if q >= n {
                return Err(p);
            }
        }
        let q = self.until(p, n, "?#");
        self.check(p, q, PATH)?;
        p = q;
        if self.at(p, '?') {
            let q = self.until(p + 1, n, "#");
            self.check(p + 1, q, URIC)?;
            p = q;
        }
        Ok(p)
    }

    /// A server (`[userinfo@]host[:port]`) or, failing that, a registry name. Every character
    /// a server may hold but a registry name may not is `[`, `]` or `%`, so an authority that
    /// is no registry name must hold an IPv6 literal.
    fn authority(&self, p: usize, n: usize) -> Parsed<()> {
        let server_set = if self.until(p, n, "]") > p {
            SERVER_PERCENT
        } else {
            SERVER
        };
        let server_chars = self.scan(p, n, server_set)? == n;
        let registry = self.scan(p, n, REG_NAME)?;
        if registry == n {
            return Ok(());
        }
        if !server_chars {
            return Err(registry);
        }
        let mut p = p;
        if let Some(q) = self.until_unless(p, n, "/?#", "@")
            && self.at(q, '@')
        {
            self.check(p, q, USERINFO)?;
            p = q + 1;
        }
        if !self.at(p, '[') {
            return Err(p);
        }
        let close = self.until_unless(p + 1, n, "/?#", "]");
        let Some(q) = close.filter(|&q| q > p + 1 && self.at(q, ']')) else {
            return Err(p);
        };
        let zone = self.until(p + 1, q, "%");
        self.ipv6(p + 1, if zone > p + 1 { zone } else { q })?;
        if zone + 1 == q {
            return Err(zone);
        }
        if zone < q {
            self.check(zone + 1, q, SCOPE_ID)?;
        }
        p = q + 1;
        if self.at(p, ':') {
            let q = self.until(p + 1, n, "/");
            self.check(p + 1, q, DIGIT)?;
            let digits: String = self.s[p + 1..q].iter().collect();
            if q > p + 1 && digits.parse::<i32>().is_err() {
                return Err(p + 1);
            }
            p = q;
        }
        if p < n { Err(p) } else { Ok(()) }
    }

    /// Java's IPv6 grammar: hex groups of one to four digits, at most one `::` standing for at
    /// least one group, an IPv4 address for the last four bytes, sixteen bytes in all.
    fn ipv6(&self, start: usize, n: usize) -> Parsed<()> {
        let mut bytes = 0;
        let mut p = start;
        let mut compressed = false;
        match self.hex_groups(p, n, &mut bytes)? {
            Some(q) => {
                p = q;
                if self.at(p, ':') && self.at(p + 1, ':') && p + 1 < n {
                    compressed = true;
                    p = self.after_compression(p + 2, n, &mut bytes)?;
                } else if self.at(p, ':') && p < n {
                    p = self.ipv4(p + 1, n)?;
                    bytes += 4;
                }
            }
            None if self.at(p, ':') && self.at(p + 1, ':') && p + 1 < n => {
                compressed = true;
                p = self.after_compression(p + 2, n, &mut bytes)?;
            }
            None => {}
        }
        let sized = if compressed { bytes < 16 } else { bytes == 16 };
        if p < n || !sized { Err(start) } else { Ok(()) }
    }

    fn after_compression(&self, start: usize, n: usize, bytes: &mut usize) -> Parsed<usize> {
        if start == n {
            return Ok(start);
        }
        let p = match self.hex_groups(start, n, bytes)? {
            Some(q) if self.at(q, ':') && q < n => self.ipv4(q + 1, n)?,
            Some(q) => return Ok(q),
            None => self.ipv4(start, n)?,
        };
        *bytes += 4;
        Ok(p)
    }

    /// `hex4 *(":" hex4)`, stopping before `::` and before an IPv4 address; `None` when none.
    fn hex_groups(&self, start: usize, n: usize, bytes: &mut usize) -> Parsed<Option<usize>> {
        let q = self.scan(start, n, HEX)?;
        if q <= start || self.at(q, '.') {
            return Ok(None);
        }
        if q > start + 4 {
            return Err(start);
        }
        *bytes += 2;
        let mut p = q;
        while p < n && self.at(p, ':') && !(p + 1 < n && self.at(p + 1, ':')) {
            let q = self.scan(p + 1, n, HEX)?;
            if q <= p + 1 {
                return Err(p + 1);
            }
            if self.at(q, '.') {
                break;
            }
            if q > p + 5 {
                return Err(p + 1);
            }
            *bytes += 2;
            p = q;
        }
        Ok(Some(p))
    }

    /// Exactly four dot-separated decimal numbers up to 255 (leading zeros allowed), to `n`.
    fn ipv4(&self, start: usize, n: usize) -> Parsed<usize> {
        let text: String = self.s[start..n].iter().collect();
        let parts: Vec<&str> = text.split('.').collect();
        let byte = |d: &&str| {
            !d.is_empty()
                && d.bytes().all(|b| b.is_ascii_digit())
                && d.parse::<u64>().is_ok_and(|v| v <= 255)
        };
        if parts.len() == 4 && parts.iter().all(byte) {
            Ok(n)
        } else {
            Err(start)
        }
    }
}

#[cfg(test)]
mod tests;
