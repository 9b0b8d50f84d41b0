//! What earlier runs of a delivery recorded, read back from its journal.

use super::journal::{Header, Record};
use super::source::Fingerprint;

/// The journal's records, summed up.
#[derive(Debug, Default)]
pub(crate) struct Resume {
    /// The header, if the journal has one.
    pub header: Option<Header>,
    /// Event ranges acknowledged or rejected, merged, sorted.
    pub done: Ranges,
    /// Ranges whose request began but was never acknowledged, rejected or
    /// known not to have arrived: a rerun sends them as possible duplicates.
    pub unacked: Ranges,
    /// (offset, SHA-256 of a stream up to it), sorted by offset.
    pub checkpoints: Vec<Fingerprint>,
    /// Events acknowledged.
    pub sent: u64,
    /// Events rejected, by the checks or by the API.
    pub rejected: u64,
    /// Events rejected by the checks.
    pub rejected_by_checks: u64,
    /// The highest event number known, plus one.
    pub highest_known: u64,
    /// The events read, if the journal says every one was sent or rejected.
    pub finished: Option<u64>,
    /// The whole input's fingerprint, once a run read it to its end.
    pub read_all: Option<Fingerprint>,
    /// The last API key fingerprint and method recorded.
    pub client: Option<(Option<String>, u32)>,
    /// Whether the API acknowledged a request made with that key and method.
    pub accepted_with_client: bool,
}

impl Resume {
    pub fn from_records(records: Vec<Record>) -> Resume {
        let mut resume = Resume::default();
        let mut began = Vec::new();
        let mut done = Vec::new();
        let mut unsent = Vec::new();
        for record in records {
            match record {
                Record::Journal(header) => resume.header = Some(header),
                Record::Client { key, method } => {
                    resume.client = Some((key, method));
                    resume.accepted_with_client = false;
                }
                Record::Sent {
                    from,
                    to,
                    offset,
                    sha256,
                    ..
                } => {
                    began.push((from, to));
                    if let (Some(size), Some(sha256)) = (offset, sha256) {
                        resume.checkpoints.push(Fingerprint { size, sha256 });
                    }
                }
                Record::Unsent { from, to } => unsent.push((from, to)),
                Record::Acked { from, to, events } => {
                    done.push((from, to));
                    resume.sent += events;
                    resume.highest_known = resume.highest_known.max(to);
                    resume.accepted_with_client = true;
                }
                Record::Rejected { events, by_api } => {
                    for ordinal in events {
                        done.push((ordinal, ordinal + 1));
                        resume.rejected += 1;
                        resume.rejected_by_checks += u64::from(!by_api);
                        resume.highest_known = resume.highest_known.max(ordinal + 1);
                    }
                }
                Record::Read { events, input } => {
                    resume.highest_known = resume.highest_known.max(events);
                    resume.read_all = Some(input);
                }
                Record::Finished { .. } => resume.finished = Some(resume.highest_known),
            }
        }
        resume.done = Ranges::from(done);
        resume.unacked = Ranges::from(began)
            .minus(&resume.done)
            .minus(&Ranges::from(unsent));
        resume
            .checkpoints
            .sort_by(|a, b| (a.size, &a.sha256).cmp(&(b.size, &b.sha256)));
        resume.checkpoints.dedup();
        resume
    }

    /// Whether any of the input may have reached the API: then resuming
    /// with another input would mix the two. (Rejections alone are redone
    /// on a fresh start.)
    pub fn anything_may_have_arrived(&self) -> bool {
        self.sent > 0 || !self.unacked.is_empty()
    }
}

/// Sorted, merged, half-open ranges of event numbers.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Ranges(Vec<(u64, u64)>);

impl From<Vec<(u64, u64)>> for Ranges {
    fn from(mut ranges: Vec<(u64, u64)>) -> Self {
        ranges.retain(|(from, to)| from < to);
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (from, to) in ranges {
            match merged.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(to),
                _ => merged.push((from, to)),
            }
        }
        Ranges(merged)
    }
}

impl Ranges {
    pub fn contains(&self, n: u64) -> bool {
        let at = self.0.partition_point(|(_, to)| *to <= n);
        self.0.get(at).is_some_and(|(from, _)| *from <= n)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many numbers the ranges hold.
    pub fn len(&self) -> u64 {
        self.0.iter().map(|(from, to)| to - from).sum()
    }

    pub fn minus(&self, other: &Ranges) -> Ranges {
        let mut out = Vec::new();
        for &(from, to) in &self.0 {
            let mut start = from;
            for &(f, t) in &other.0 {
                if t <= start || f >= to {
                    continue;
                }
                if f > start {
                    out.push((start, f));
                }
                start = start.max(t);
            }
            if start < to {
                out.push((start, to));
            }
        }
        Ranges::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_and_subtract() {
        let ranges = Ranges::from(vec![(5, 8), (0, 2), (2, 3), (7, 10), (20, 20)]);
        assert_eq!(ranges, Ranges(vec![(0, 3), (5, 10)]));
        assert_eq!(ranges.len(), 8);
        assert!(ranges.contains(0) && ranges.contains(2) && ranges.contains(9));
        assert!(!ranges.contains(3) && !ranges.contains(10) && !ranges.contains(4));
        let sent = Ranges::from(vec![(0, 20)]);
        assert_eq!(sent.minus(&ranges), Ranges(vec![(3, 5), (10, 20)]));
    }

    #[test]
    fn requests_known_not_to_have_arrived_are_no_possible_duplicates() {
        let sent = |from, to| Record::Sent {
            from,
            to,
            events: to - from,
            offset: None,
            sha256: None,
        };
        let resume = Resume::from_records(vec![
            sent(0, 10),
            Record::Acked {
                from: 0,
                to: 10,
                events: 10,
            },
            sent(10, 20),
            Record::Unsent { from: 10, to: 20 },
            sent(20, 30),
            sent(30, 40),
            Record::Rejected {
                events: vec![35],
                by_api: true,
            },
        ]);
        assert_eq!(resume.unacked, Ranges(vec![(20, 35), (36, 40)]));
        assert!(resume.anything_may_have_arrived());
        assert_eq!(
            (resume.sent, resume.rejected, resume.rejected_by_checks),
            (10, 1, 0)
        );
    }

    #[test]
    fn an_acknowledgement_counts_for_the_client_recorded_before_it() {
        let client = |key: &str| Record::Client {
            key: Some(key.into()),
            method: 11256,
        };
        let acked = Record::Acked {
            from: 0,
            to: 1,
            events: 1,
        };
        let resume = Resume::from_records(vec![client("a"), acked.clone()]);
        assert!(resume.accepted_with_client);
        let resume = Resume::from_records(vec![client("a"), acked, client("b")]);
        assert!(!resume.accepted_with_client);
        assert_eq!(resume.client, Some((Some("b".into()), 11256)));
    }
}
