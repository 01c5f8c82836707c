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
    /// Per contender, the samples in run order, each with the run it came from.
    samples: BTreeMap<&'static str, Vec<(usize, f64)>>,
}

impl Row {
    fn values(&self, contender: &str) -> Option<Vec<f64>> {
        self.samples
            .get(contender)
            .map(|s| s.iter().map(|&(_, v)| v).collect())
    }

    fn in_run(&self, contender: &str, run: usize) -> Option<f64> {
        self.samples
            .get(contender)?
            .iter()
            .find(|&&(r, _)| r == run)
            .map(|&(_, v)| v)
    }

    /// gangway's ratio to the best of `others` in each run where both were measured.
    fn ratios(&self, others: &[&str]) -> Vec<f64> {
        let runs: Vec<usize> = self
            .samples
            .get("gangway")
            .map(|s| s.iter().map(|&(r, _)| r).collect())
            .unwrap_or_default();
        runs.into_iter()
            .filter_map(|run| {
                let g = self.in_run("gangway", run)?;
                let o =
                    others
                        .iter()
                        .filter_map(|c| self.in_run(c, run))
                        .reduce(|a, b| match self.better {
                            Better::Higher => a.max(b),
                            Better::Lower => a.min(b),
                        })?;
                ratio(g, o, self.better)
            })
            .collect()
    }
}

/// Samples gathered over all runs.
#[derive(Debug)]
pub(crate) struct Report {
    columns: Vec<&'static str>,
    order: Vec<String>,
    rows: BTreeMap<String, Row>,
    checks: BTreeMap<String, BTreeMap<&'static str, Vec<bool>>>,
    /// The run the next samples belong to.
    run: usize,
    /// Per run and contender, what failed, timed out or could not start.
    failures: BTreeMap<(usize, &'static str), Vec<String>>,
}

impl Report {
    /// A report with these contenders as columns, in this order.
    pub(crate) fn new(columns: Vec<&'static str>) -> Self {
        Self {
            columns,
            order: Vec::new(),
            rows: BTreeMap::new(),
            checks: BTreeMap::new(),
            run: 0,
            failures: BTreeMap::new(),
        }
    }

    /// Records that a measure of `contender` failed or timed out in the current run.
    pub(crate) fn failure(&mut self, contender: &'static str, what: String) {
        eprintln!("  {contender}: FAILED: {what}");
        self.failures
            .entry((self.run, contender))
            .or_default()
            .push(what);
    }

    /// How many measures of `contender` failed in the current run.
    pub(crate) fn failures_in_run(&self, contender: &'static str) -> usize {
        self.failures
            .get(&(self.run, contender))
            .map_or(0, Vec::len)
    }

    /// Starts run `run`: the samples added from now on belong to it.
    pub(crate) fn start_run(&mut self, run: usize) {
        self.run = run;
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
        row.samples
            .entry(contender)
            .or_default()
            .push((self.run, value));
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
    /// best HAProxy variant and to nginx (above 1.00 is better for gangway in every row). Each
    /// ratio is computed within one run (gangway against the others measured in the same run),
    /// and the cell gives the median of the per-run ratios with their spread.
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
                match row.values(c) {
                    Some(s) => {
                        let _ = write!(out, " {} |", cell(&s, fmt));
                    }
                    None => {
                        let _ = write!(out, " n/a |");
                    }
                }
            }
            for others in [&["haproxy", "haproxy-splice"][..], &["nginx"][..]] {
                let ratios = row.ratios(others);
                let text = if ratios.is_empty() {
                    "n/a".to_owned()
                } else {
                    cell(&ratios, |r| format!("{r:.2}x"))
                };
                let _ = write!(out, " {text} |");
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
        if !self.failures.is_empty() {
            let _ = writeln!(out, "\nFailures (their rows are missing from that run):\n");
            for ((run, contender), list) in &self.failures {
                for what in list {
                    let _ = writeln!(out, "- run {run}, {contender}: {what}");
                }
            }
        }
        out
    }
}

/// How many times better gangway is (>1.00) or worse (<1.00); none without two positive values.
fn ratio(gangway: f64, other: f64, better: Better) -> Option<f64> {
    (gangway > 0.0 && other > 0.0).then(|| match better {
        Better::Higher => gangway / other,
        Better::Lower => other / gangway,
    })
}

fn median(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// The median, and the spread (min–max) in brackets when there are several samples.
fn cell(samples: &[f64], fmt: impl Fn(f64) -> String) -> String {
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
    } else if v == v.trunc() && v.abs() < 1e15 {
        // Counts, and whole numbers generally.
        format!("{v:.0}")
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
