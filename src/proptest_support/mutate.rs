//! Mutations of a valid message, the way broken or hostile peers damage one: lines dropped,
//! duplicated or swapped, the message cut short, bytes flipped or inserted, numbers replaced
//! by extremes, whitespace and line folding inserted, header-name case changed.
//!
//! Positions are [`Index`]es, resolved against the message as it is when the mutation is
//! applied, so a shrunk case stays meaningful.

use proptest::prelude::*;
use proptest::sample::Index;

/// Numbers that overflow, underflow or pad the fields they replace.
const EXTREME_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "65535",
    "65536",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "000000000000000000000000000001",
    "99999999999999999999999999999999999999",
];

/// Bytes likely to hit a parser's edge cases.
const INTERESTING: &[u8] = b" \t\r\n:;=,/<>\"\\@%0129aZ\x00\x7f\xff";

/// Whitespace that is, or is not, allowed where it is put.
const WHITESPACE: &[&str] = &[" ", "\t", "  ", "\r\n ", "\r\n\t", "\r\n"];

/// One change to a message.
#[derive(Debug, Clone)]
pub enum Mutation {
    DropLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    Truncate(Index),
    FlipBits(Index, u8),
    InsertByte(Index, u8),
    ExtremeNumber(Index, &'static str),
    InsertWhitespace(Index, &'static str),
    ChangeCase(Index, bool),
}

/// Any one mutation.
pub fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = proptest::sample::select(INTERESTING);
    prop_oneof![
        any::<Index>().prop_map(Mutation::DropLine),
        any::<Index>().prop_map(Mutation::DuplicateLine),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), 1..=u8::MAX).prop_map(|(at, bits)| Mutation::FlipBits(at, bits)),
        (any::<Index>(), interesting).prop_map(|(at, b)| Mutation::InsertByte(at, b)),
        (any::<Index>(), proptest::sample::select(EXTREME_NUMBERS))
            .prop_map(|(at, n)| Mutation::ExtremeNumber(at, n)),
        (any::<Index>(), proptest::sample::select(WHITESPACE))
            .prop_map(|(at, w)| Mutation::InsertWhitespace(at, w)),
        (any::<Index>(), any::<bool>()).prop_map(|(at, up)| Mutation::ChangeCase(at, up)),
    ]
}

/// `message` with one to four mutations applied.
pub fn mutated(message: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(mutation(), 1..=4).prop_map(move |mutations| {
        let mut bytes = message.clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        bytes
    })
}

/// Applies `mutation` to `bytes` (a no-op where it has nothing to act on).
pub fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match mutation {
        Mutation::DropLine(at) => edit_lines(bytes, |lines| {
            lines.remove(at.index(lines.len()));
        }),
        Mutation::DuplicateLine(at) => edit_lines(bytes, |lines| {
            let i = at.index(lines.len());
            let copy = lines[i].clone();
            lines.insert(i, copy);
        }),
        Mutation::SwapLines(a, b) => edit_lines(bytes, |lines| {
            let n = lines.len();
            lines.swap(a.index(n), b.index(n));
        }),
        Mutation::Truncate(at) => bytes.truncate(at.index(len + 1)),
        Mutation::FlipBits(at, bits) if len > 0 => bytes[at.index(len)] ^= bits,
        Mutation::InsertByte(at, byte) => bytes.insert(at.index(len + 1), *byte),
        Mutation::ExtremeNumber(at, number) => {
            let runs = digit_runs(bytes);
            if !runs.is_empty() {
                let (start, end) = runs[at.index(runs.len())];
                bytes.splice(start..end, number.bytes());
            }
        }
        Mutation::InsertWhitespace(at, space) => {
            let i = at.index(len + 1);
            bytes.splice(i..i, space.bytes());
        }
        Mutation::ChangeCase(at, upper) => edit_lines(bytes, |lines| {
            let i = at.index(lines.len());
            let line = &mut lines[i];
            let name_end = line.iter().position(|b| *b == b':').unwrap_or(line.len());
            for b in &mut line[..name_end] {
                *b = if *upper {
                    b.to_ascii_uppercase()
                } else {
                    b.to_ascii_lowercase()
                };
            }
        }),
        Mutation::FlipBits(..) => {}
    }
}

/// Runs `edit` on the message's lines (split after each LF, so CRLFs stay with their line).
fn edit_lines(bytes: &mut Vec<u8>, edit: impl FnOnce(&mut Vec<Vec<u8>>)) {
    let mut lines: Vec<Vec<u8>> = bytes
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    if lines.is_empty() {
        return;
    }
    edit(&mut lines);
    *bytes = lines.concat();
}

/// The `(start, end)` of each run of ASCII digits.
fn digit_runs(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (i, b) in bytes.iter().chain(std::iter::once(&b' ')).enumerate() {
        match (b.is_ascii_digit(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                runs.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    runs
}
