//! The comparison table: one row per measure, one column per contender, plus gangway's ratios.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Which way a measure improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Better {
    /// Throughput, rates.
    Higher,
    /// Latency, memory, CPU.
    Lower,
}

#[derive(Debug)]
struct Row {
    better: Better,
    samples: BTreeMap<&'static str, Vec<f64>>,
}

/// Samples gathered over all runs.
#[derive(Debug)]
pub(crate) struct Report {
    columns: Vec<&'static str>,
    order: Vec<String>,
    rows: BTreeMap<String, Row>,
    checks: BTreeMap<String, BTreeMap<&'static str, Vec<bool>>>,
}

impl Report {
    /// A report with these contenders as columns, in this order.
    pub(crate) fn new(columns: Vec<&'static str>) -> Self {
        Self {
            columns,
            order: Vec::new(),
            rows: BTreeMap::new(),
            checks: BTreeMap::new(),
        }
    }

    /// Records one sample.
    pub(crate) fn add(
        &mut self,
        measure: &str,
        better: Better,
        contender: &'static str,
        value: f64,
    ) {
        if !self.rows.contains_key(measure) {
            self.order.push(measure.to_owned());
        }
        let row = self.rows.entry(measure.to_owned()).or_insert_with(|| Row {
            better,
            samples: BTreeMap::new(),
        });
        row.samples.entry(contender).or_default().push(value);
    }

    /// Records the outcome of one correctness check.
    pub(crate) fn check(&mut self, name: &str, contender: &'static str, passed: bool) {
        self.checks
            .entry(name.to_owned())
            .or_default()
            .entry(contender)
            .or_default()
            .push(passed);
    }

    /// The Markdown table: medians, the spread over runs in brackets, and gangway's ratio to the
    /// best HAProxy variant and to nginx (above 1.00 is better for gangway in every row).
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "| measure |");
        for c in &self.columns {
            let _ = write!(out, " {c} |");
        }
        let _ = writeln!(out, " gangway vs haproxy | gangway vs nginx |");
        let _ = write!(out, "|---|");
        for _ in &self.columns {
            let _ = write!(out, "---:|");
        }
        let _ = writeln!(out, "---:|---:|");
        for name in &self.order {
            let row = &self.rows[name];
            let _ = write!(out, "| {name} |");
            for c in &self.columns {
                match row.samples.get(c) {
                    Some(s) => {
                        let _ = write!(out, " {} |", cell(s));
                    }
                    None => {
                        let _ = write!(out, " n/a |");
                    }
                }
            }
            let gw = row.samples.get("gangway").map(|s| median(s));
            let haproxy = ["haproxy", "haproxy-splice"]
                .iter()
                .filter_map(|c| row.samples.get(c).map(|s| median(s)))
                .reduce(|a, b| match row.better {
                    Better::Higher => a.max(b),
                    Better::Lower => a.min(b),
                });
            let nginx = row.samples.get("nginx").map(|s| median(s));
            for other in [haproxy, nginx] {
                let _ = write!(out, " {} |", ratio(gw, other, row.better));
            }
            let _ = writeln!(out);
        }
        if !self.checks.is_empty() {
            let _ = write!(out, "\n| correctness check |");
            for c in &self.columns {
                let _ = write!(out, " {c} |");
            }
            let _ = write!(out, "\n|---|");
            for _ in &self.columns {
                let _ = write!(out, ":---:|");
            }
            let _ = writeln!(out);
            for (name, by) in &self.checks {
                let _ = write!(out, "| {name} |");
                for c in &self.columns {
                    let cell = match by.get(c) {
                        Some(v) if v.iter().all(|&ok| ok) => "yes",
                        Some(v) if v.iter().any(|&ok| ok) => "sometimes",
                        Some(_) => "**no**",
                        None => "n/a",
                    };
                    let _ = write!(out, " {cell} |");
                }
                let _ = writeln!(out);
            }
        }
        out
    }
}

/// How many times better gangway is (>1.00) or worse (<1.00).
fn ratio(gangway: Option<f64>, other: Option<f64>, better: Better) -> String {
    match (gangway, other) {
        (Some(g), Some(o)) if g > 0.0 && o > 0.0 => {
            let r = match better {
                Better::Higher => g / o,
                Better::Lower => o / g,
            };
            format!("{r:.2}x")
        }
        _ => "n/a".to_owned(),
    }
}

fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn cell(samples: &[f64]) -> String {
    let m = median(samples);
    if samples.len() < 2 {
        return fmt(m);
    }
    let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let max = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{} ({}–{})", fmt(m), fmt(min), fmt(max))
}

fn fmt(v: f64) -> String {
    if v.is_nan() {
        "n/a".to_owned()
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
