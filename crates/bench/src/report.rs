//! The figures of a run: one table on stdout, `report.json`, and the SVG plots.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("writing {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("serializing the report")]
    Json(#[source] serde_json::Error),
    #[error("drawing {path}: {message}")]
    Plot { path: String, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a figure should reach.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", tag = "kind", content = "value")]
pub enum Goal {
    AtLeast(f64),
    AtMost(f64),
}

/// One measured figure. `value` is None when the scenario could not produce it (`note`
/// says why).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figure {
    pub scenario: &'static str,
    pub name: String,
    pub value: Option<f64>,
    pub unit: &'static str,
    pub goal: Option<Goal>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

impl Figure {
    pub fn new(
        scenario: &'static str,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Self {
        Figure {
            scenario,
            name: name.into(),
            value: Some(value),
            unit,
            goal: None,
            note: String::new(),
        }
    }

    /// A figure the scenario could not measure.
    pub fn missing(
        scenario: &'static str,
        name: impl Into<String>,
        unit: &'static str,
        why: String,
    ) -> Self {
        Figure {
            value: None,
            note: why,
            ..Figure::new(scenario, name, 0.0, unit)
        }
    }

    pub fn goal(mut self, goal: Goal) -> Self {
        self.goal = Some(goal);
        self
    }

    /// Adds a note (empty ones are left out).
    pub fn note(mut self, note: impl Into<String>) -> Self {
        let note = note.into();
        if !note.is_empty() {
            if !self.note.is_empty() {
                self.note.push_str("; ");
            }
            self.note.push_str(&note);
        }
        self
    }

    /// "pass", "short", or "" without a goal, "n/a" without a value.
    pub fn verdict(&self) -> &'static str {
        match (self.value, self.goal) {
            (None, _) => "n/a",
            (Some(_), None) => "",
            (Some(v), Some(Goal::AtLeast(g))) if v >= g => "pass",
            (Some(v), Some(Goal::AtMost(g))) if v <= g => "pass",
            (Some(_), Some(_)) => "short",
        }
    }
}

/// One point of a latency-against-load curve.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadPoint {
    pub server: String,
    pub offered_per_s: f64,
    pub achieved_per_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
}

/// API calls per termination of one verb on one resource (P5).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallCount {
    /// `terminate` or `cancel`.
    pub action: String,
    pub verb: String,
    pub resource: String,
    pub per_termination: f64,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub date: String,
    pub machine: String,
    pub quick: bool,
    pub figures: Vec<Figure>,
    pub latency_vs_load: Vec<LoadPoint>,
    pub calls: Vec<CallCount>,
    pub notes: Vec<String>,
}

fn format_value(value: f64, unit: &str) -> String {
    let digits = if value.abs() >= 100.0 {
        0
    } else if value.abs() >= 10.0 {
        1
    } else {
        2
    };
    let unit = if unit == "x" { "×" } else { unit };
    let gap = if unit == "×" || unit == "%" { "" } else { " " };
    format!("{value:.digits$}{gap}{unit}")
}

impl Report {
    /// The one table: scenario, figure, value, goal, verdict.
    pub fn table(&self) -> String {
        let rows: Vec<[String; 5]> = self
            .figures
            .iter()
            .map(|f| {
                let value = match f.value {
                    Some(v) => format_value(v, f.unit),
                    None => "—".to_owned(),
                };
                let goal = match f.goal {
                    Some(Goal::AtLeast(g)) => format!(">= {}", format_value(g, f.unit)),
                    Some(Goal::AtMost(g)) => format!("<= {}", format_value(g, f.unit)),
                    None => String::new(),
                };
                [
                    f.scenario.to_owned(),
                    f.name.clone(),
                    value,
                    goal,
                    f.verdict().to_owned(),
                ]
            })
            .collect();
        let header = ["", "figure", "value", "goal", ""].map(str::to_owned);
        let mut widths = [0usize; 5];
        for row in std::iter::once(&header).chain(&rows) {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&header).chain(&rows) {
            let [scenario, name, value, goal, verdict] = row;
            let line = format!(
                "{scenario:<w0$}  {name:<w1$}  {value:>w2$}  {goal:<w3$}  {verdict}",
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
                w3 = widths[3],
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        let notes: Vec<&str> = self
            .figures
            .iter()
            .filter(|f| !f.note.is_empty())
            .map(|f| f.note.as_str())
            .chain(self.notes.iter().map(String::as_str))
            .collect();
        for note in notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }

    /// Writes `report.json` and the plots into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).map_err(Error::Json)?;
        write(&dir.join("report.json"), json)?;
        write(&dir.join("table.txt"), self.table())?;
        if !self.latency_vs_load.is_empty() {
            let path = dir.join("latency-vs-load.svg");
            plot_latency(&self.latency_vs_load, &path).map_err(plot_error(&path))?;
        }
        if !self.calls.is_empty() {
            let path = dir.join("calls-per-termination.svg");
            plot_calls(&self.calls, &path).map_err(plot_error(&path))?;
        }
        Ok(())
    }
}

fn write(path: &Path, text: String) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.display().to_string(),
        source,
    })
}

fn plot_error(path: &Path) -> impl Fn(PlotError) -> Error + '_ {
    move |error| Error::Plot {
        path: path.display().to_string(),
        message: error.to_string(),
    }
}

/// What plotters fails with, whatever the backend.
type PlotError = Box<dyn std::error::Error>;

/// The legend, top right, and the file written.
fn finish<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    mut chart: ChartContext<'a, DB, CT>,
    root: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .border_style(BLACK)
        .background_style(WHITE.mix(0.8))
        .draw()?;
    root.present()?;
    Ok(())
}

/// p50 and p99 latency against offered load, one pair of lines per server.
fn plot_latency(points: &[LoadPoint], path: &Path) -> Result<(), PlotError> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_x = points.iter().map(|p| p.offered_per_s).fold(1.0, f64::max) * 1.05;
    let max_y = points.iter().map(|p| p.p99_ms).fold(0.1, f64::max) * 1.2;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "TerminateJob (unknown job): latency against offered load",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, (0.01..max_y).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("offered load (requests/s, open loop)")
        .y_desc("latency (ms)")
        .draw()?;
    let mut servers: Vec<&str> = Vec::new();
    for point in points {
        if !servers.contains(&point.server.as_str()) {
            servers.push(&point.server);
        }
    }
    for (i, server) in servers.iter().enumerate() {
        let colour = Palette99::pick(i).to_rgba();
        let mine: Vec<&LoadPoint> = points.iter().filter(|p| p.server == *server).collect();
        for (quantile, thin, pick) in [
            (
                "p50",
                false,
                (|p: &LoadPoint| p.p50_ms) as fn(&LoadPoint) -> f64,
            ),
            ("p99", true, |p: &LoadPoint| p.p99_ms),
        ] {
            let line: Vec<(f64, f64)> = mine
                .iter()
                .map(|p| (p.offered_per_s, pick(p).max(0.01)))
                .collect();
            let style = colour.stroke_width(if thin { 1 } else { 2 });
            chart
                .draw_series(LineSeries::new(line.clone(), style))?
                .label(format!("{server} {quantile}"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            chart.draw_series(line.into_iter().map(|p| Circle::new(p, 3, colour.filled())))?;
        }
    }
    finish(chart, &root)
}

/// Calls per termination, one bar per verb and resource, terminate and cancel side by side.
fn plot_calls(calls: &[CallCount], path: &Path) -> Result<(), PlotError> {
    let mut kinds: Vec<String> = calls
        .iter()
        .map(|c| format!("{} {}", c.verb, c.resource))
        .collect();
    kinds.sort();
    kinds.dedup();
    let actions = ["terminate", "cancel"];
    let max_y = calls.iter().map(|c| c.per_termination).fold(1.0, f64::max) * 1.2;
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Kubernetes API calls per termination (kubesim's request log)",
            ("sans-serif", 20),
        )
        .margin(16)
        .x_label_area_size(170)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..kinds.len() as f64, 0.0..max_y)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_label_formatter(&|_| String::new())
        .y_desc("calls per termination")
        .draw()?;
    for (a, action) in actions.iter().enumerate() {
        let colour = Palette99::pick(a).to_rgba();
        let bars = calls
            .iter()
            .filter(|c| c.action == *action)
            .filter_map(|c| {
                let i = kinds
                    .iter()
                    .position(|k| *k == format!("{} {}", c.verb, c.resource))?
                    as f64;
                let left = i + 0.1 + 0.4 * a as f64;
                Some(Rectangle::new(
                    [(left, 0.0), (left + 0.4, c.per_termination)],
                    colour.filled(),
                ))
            });
        chart
            .draw_series(bars)?
            .label(*action)
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], colour.filled()));
    }
    // Each group's name under it, downwards: the names are too long to sit side by side.
    let font = ("sans-serif", 13)
        .into_font()
        .transform(FontTransform::Rotate90);
    for (i, kind) in kinds.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(kind.clone(), (x - 6, y + 8), font.clone()))?;
    }
    finish(chart, &root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_follow_the_goal() {
        let f = Figure::new("P1", "ratio", 0.6, "x");
        assert_eq!(f.verdict(), "");
        assert_eq!(f.clone().goal(Goal::AtLeast(0.5)).verdict(), "pass");
        assert_eq!(f.clone().goal(Goal::AtLeast(0.7)).verdict(), "short");
        assert_eq!(f.clone().goal(Goal::AtMost(0.5)).verdict(), "short");
        let missing = Figure::missing("P1", "moto", "req/s", "no moto".into());
        assert_eq!(missing.goal(Goal::AtLeast(1.0)).verdict(), "n/a");
    }

    #[test]
    fn the_table_has_a_row_per_figure_and_the_notes() {
        let report = Report {
            figures: vec![
                Figure::new("P2", "durable terminations", 2500.0, "/s").goal(Goal::AtLeast(2000.0)),
                Figure::missing("P1", "moto", "req/s", "moto_server is not installed".into()),
            ],
            ..Report::default()
        };
        let table = report.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(
            lines[1].contains("2500 /s")
                && lines[1].contains(">= 2000 /s")
                && lines[1].ends_with("pass"),
            "{table}"
        );
        assert!(
            lines[2].contains('—') && lines[2].ends_with("n/a"),
            "{table}"
        );
        assert_eq!(lines[3], "note: moto_server is not installed");
    }

    #[test]
    fn plots_are_written() {
        // Under target/tmp, so runs leave nothing in the system temp dir.
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/tmp"))
            .join(format!("bench-plots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let report = Report {
            latency_vs_load: ["floor", "product"]
                .iter()
                .flat_map(|s| {
                    [1000.0, 2000.0].map(|x| LoadPoint {
                        server: s.to_string(),
                        offered_per_s: x,
                        achieved_per_s: x,
                        p50_ms: 0.2,
                        p90_ms: 0.4,
                        p99_ms: 1.5,
                    })
                })
                .collect(),
            calls: vec![CallCount {
                action: "terminate".into(),
                verb: "patch".into(),
                resource: "jobs".into(),
                per_termination: 1.0,
            }],
            ..Report::default()
        };
        report.write(&dir).unwrap();
        for file in [
            "report.json",
            "table.txt",
            "latency-vs-load.svg",
            "calls-per-termination.svg",
        ] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            assert!(!text.is_empty(), "{file}");
        }
        let svg = std::fs::read_to_string(dir.join("calls-per-termination.svg")).unwrap();
        assert!(svg.contains("patch jobs"), "{svg}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
