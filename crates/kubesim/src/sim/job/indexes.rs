//! Index sets as `status.completedIndexes` and `status.failedIndexes` write them ("1,3-5").

use std::collections::BTreeSet;

/// Parses `status.completedIndexes` ("1,3-5") into indexes below `completions`.
pub fn parse_indexes(s: &str, completions: i32) -> BTreeSet<i32> {
    let mut out = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<i32>(), b.parse::<i32>()),
            None => (part.parse::<i32>(), part.parse::<i32>()),
        };
        if let (Ok(lo), Ok(hi)) = (lo, hi) {
            for i in lo.max(0)..=hi.min(completions - 1) {
                out.insert(i);
            }
        }
    }
    out
}

/// Formats indexes as Kubernetes does (orderedIntervals.String): ascending, a run of 3 or more
/// as "a-b", a run of two as "a,b".
pub fn format_indexes(indexes: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut iter = indexes.iter().copied().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&(end + 1)) {
            end += 1;
            iter.next();
        }
        parts.push(match end - start {
            0 => start.to_string(),
            1 => format!("{start},{end}"),
            _ => format!("{start}-{end}"),
        });
    }
    parts.join(",")
}
