//! The text of the two core tags that have a format of their own, as go-yaml v2 reads it.

/// go-yaml v2's `parseTimestamp`: `2006-1-2`, then `15:4:5` and a fraction after `T` or `t` with
/// a zone (`Z`, `+07:00`), or after a space with none; each field in range, as Go's `time.Parse`.
pub(super) fn timestamp(text: &str) -> bool {
    let (date, time) = match text.find(['T', 't', ' ']) {
        Some(i) => (&text[..i], Some((&text[i..=i], &text[i + 1..]))),
        None => (text, None),
    };
    let number = |s: &str, width: std::ops::RangeInclusive<usize>| {
        (width.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let mut fields = date.split('-').map(|s| s.to_string());
    let (Some(year), Some(month), Some(day), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return false;
    };
    let (Some(year), Some(month), Some(day)) = (
        number(&year, 4..=4),
        number(&month, 1..=2),
        number(&day, 1..=2),
    ) else {
        return false;
    };
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return false,
    };
    let Some((separator, time)) = time else {
        return (1..=days).contains(&day);
    };
    let mut parts = time.splitn(3, ':');
    let (Some(hour), Some(minute), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let seconds = rest.bytes().take(2).take_while(u8::is_ascii_digit).count();
    let (second, mut zone) = rest.split_at(seconds);
    if let Some(fraction) = zone.strip_prefix(['.', ',']) {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            zone = &fraction[digits..];
        }
    }
    let zone_ok = match separator {
        " " => zone.is_empty(),
        _ => {
            // By bytes: a zone of six bytes may hold a character of two (`+0é30`).
            let two = |range| zone.get(range).and_then(|s| number(s, 2..=2));
            zone == "Z"
                || zone.len() == 6
                    && zone.starts_with(['+', '-'])
                    && zone.as_bytes()[3] == b':'
                    && two(1..3).is_some_and(|h| h <= 24)
                    && two(4..6).is_some_and(|m| m <= 60)
        }
    };
    (1..=days).contains(&day)
        && number(hour, 1..=2).is_some_and(|h| h < 24)
        && number(minute, 1..=2).is_some_and(|m| m < 60)
        && number(second, 1..=2).is_some_and(|s| s < 60)
        && zone_ok
}

/// `!!binary`: base64 as Go's `StdEncoding` decodes it (line breaks skipped, `=` padding
/// required, spare bits ignored); a byte that starts no UTF-8 character becomes U+FFFD, one
/// each, as Go's JSON writes it.
pub(super) fn binary(text: &str) -> Option<String> {
    let digits: Vec<u8> = text
        .bytes()
        .filter(|b| !matches!(b, b'\r' | b'\n'))
        .collect();
    if !digits.len().is_multiple_of(4) {
        return None;
    }
    let sextet = |b: u8| match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut bytes = Vec::new();
    let chunks = digits.len() / 4;
    for (i, chunk) in digits.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 || pad > 0 && i + 1 < chunks {
            return None;
        }
        let mut n = 0u32;
        for &b in &chunk[..4 - pad] {
            n = n << 6 | u32::from(sextet(b)?);
        }
        n <<= 6 * pad;
        bytes.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    let mut out = String::new();
    let mut rest = bytes.as_slice();
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => return Some(out + s),
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(good).unwrap_or_default());
                out.push('\u{FFFD}');
                rest = &bad[1..];
            }
        }
    }
}
