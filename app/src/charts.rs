//! Charts rendered on the server as SVG with plotters, so the browser downloads a
//! finished picture instead of every point of a long history.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::components::chart::{ChartView, HoverSeries, ParallelAxis, ParallelView};

/// Distinguishable colours for up to ten series; more cycle.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 78, 216),
    RGBColor(220, 88, 42),
    RGBColor(22, 150, 95),
    RGBColor(170, 60, 190),
    RGBColor(200, 150, 20),
    RGBColor(20, 160, 190),
    RGBColor(200, 40, 90),
    RGBColor(100, 110, 120),
    RGBColor(120, 170, 40),
    RGBColor(90, 60, 200),
];

pub fn color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// CSS form of a series colour, for legends drawn in HTML.
pub fn css_color(index: usize) -> String {
    let RGBColor(r, g, b) = color(index);
    format!("rgb({r}, {g}, {b})")
}

/// A drawing failure is ours, not the user's: logged, and reported as an internal error.
pub fn chart_failed(e: String) -> crate::error::AppError {
    tracing::error!(error = %e, "chart failed");
    crate::error::AppError::Internal
}

pub struct Series {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

pub struct LineOptions<'a> {
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub log_y: bool,
    pub width: u32,
    pub height: u32,
    /// Zoomed x range (the `xmin`/`xmax` in the page's URL); points outside are left out.
    pub x_zoom: Option<(f64, f64)>,
}

/// `xmin`/`xmax` from a page's URL, when both parse and make a range.
pub fn zoom_range(xmin: &str, xmax: &str) -> Option<(f64, f64)> {
    let (lo, hi): (f64, f64) = (xmin.parse().ok()?, xmax.parse().ok()?);
    (lo.is_finite() && hi.is_finite() && lo < hi).then_some((lo, hi))
}

/// Exponential moving average as TensorBoard draws it; `weight` in [0, 1).
pub fn smooth(points: &[(f64, f64)], weight: f64) -> Vec<(f64, f64)> {
    if weight <= 0.0 {
        return points.to_vec();
    }
    let weight = weight.min(0.99);
    let mut last = None;
    let mut debias = 1.0;
    let mut out = Vec::with_capacity(points.len());
    for &(x, y) in points {
        if !y.is_finite() {
            continue;
        }
        let previous: f64 = last.unwrap_or(0.0);
        let next = previous * weight + (1.0 - weight) * y;
        last = Some(next);
        debias *= weight;
        out.push((x, next / (1.0 - debias)));
    }
    out
}

fn finite_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let mut range: Option<(f64, f64)> = None;
    for v in values.filter(|v| v.is_finite()) {
        range = Some(match range {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }
    range.map(|(lo, hi)| {
        if hi - lo < 1e-12 {
            // One value (a single point, or a constant): a band around it, not a flat axis.
            let pad = if lo.abs() > 1e-12 { lo.abs() * 0.1 } else { 0.5 };
            (lo - pad, hi + pad)
        } else {
            (lo, hi)
        }
    })
}

/// A font size in CSS pixels as plotters takes it: its SVG backend writes sizes in points
/// (1/1.24 of the number given).
fn px(size: f64) -> f64 {
    size * 1.24
}

/// Tick labels: float noise around zero reads as 0.
fn tick(v: &f64) -> String {
    if v.abs() < 1e-9 {
        "0".into()
    } else {
        crate::format::number(*v)
    }
}

fn svg_error(e: impl std::fmt::Display) -> String {
    format!("chart error: {e}")
}

/// Overlaid line series, returned with what the browser needs for hover and zoom. A
/// log y axis is drawn by plotters' log coordinate, so its ticks fall on readable values
/// (0.2, 0.5, 1) and read as plain numbers.
pub fn line_chart(series: &[Series], options: &LineOptions<'_>) -> Result<ChartView, String> {
    let kept: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && (!options.log_y || *y > 0.0))
                .filter(|(x, _)| options.x_zoom.is_none_or(|(lo, hi)| (lo..=hi).contains(x)))
                .copied()
                .collect()
        })
        .collect();
    let x_range = match options.x_zoom {
        Some(range) => range,
        None => finite_range(kept.iter().flatten().map(|p| p.0)).unwrap_or((0.0, 1.0)),
    };
    let y_range = finite_range(kept.iter().flatten().map(|p| p.1)).unwrap_or((0.0, 1.0));
    let mut svg = String::new();
    let plot_x = {
        let root = SVGBackend::with_string(&mut svg, (options.width, options.height)).into_drawing_area();
        root.fill(&WHITE).map_err(svg_error)?;
        let mut builder = ChartBuilder::on(&root);
        builder.margin(10).x_label_area_size(40).y_label_area_size(64);
        if options.log_y {
            let (lo, hi) = (y_range.0.max(f64::MIN_POSITIVE), y_range.1.max(f64::MIN_POSITIVE));
            let chart = builder
                .build_cartesian_2d(x_range.0..x_range.1, (lo * 0.9..hi * 1.1).log_scale())
                .map_err(svg_error)?;
            draw_lines(chart, &kept, options)?
        } else {
            let pad = (y_range.1 - y_range.0) * 0.05;
            let chart = builder
                .build_cartesian_2d(x_range.0..x_range.1, (y_range.0 - pad)..(y_range.1 + pad))
                .map_err(svg_error)?;
            draw_lines(chart, &kept, options)?
        }
    };
    Ok(ChartView {
        svg,
        width: options.width,
        plot_x,
        x_range,
        x_label: options.x_label.to_string(),
        series: series
            .iter()
            .zip(kept)
            .enumerate()
            .map(|(i, (s, points))| HoverSeries {
                label: s.label.clone(),
                color: css_color(i),
                points,
            })
            .collect(),
    })
}

/// The mesh and the series on a built chart; the plot area's left and right pixels back.
fn draw_lines<'a, Y>(
    mut chart: ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, Y>>,
    series: &[Vec<(f64, f64)>],
    options: &LineOptions<'_>,
) -> Result<(i32, i32), String>
where
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .light_line_style(RGBColor(238, 240, 243))
        .x_desc(options.x_label)
        .y_desc(options.y_label)
        .label_style(("sans-serif", px(12.0)))
        .axis_desc_style(("sans-serif", px(12.0)))
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .x_labels(6)
        .y_labels(6)
        .draw()
        .map_err(svg_error)?;
    for (i, points) in series.iter().enumerate() {
        let style = color(i).stroke_width(2);
        if points.len() == 1 {
            // One point: a dot with its value beside it, not an empty chart.
            let p = points[0];
            chart
                .draw_series(std::iter::once(Circle::new(p, 4, style.filled())))
                .map_err(svg_error)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    crate::format::number(p.1),
                    p,
                    ("sans-serif", px(12.0))
                        .into_font()
                        .color(&RGBColor(60, 66, 76))
                        .pos(plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Left,
                            plotters::style::text_anchor::VPos::Bottom,
                        )),
                )))
                .map_err(svg_error)?;
        } else {
            chart
                .draw_series(LineSeries::new(points.iter().copied(), style))
                .map_err(svg_error)?;
        }
    }
    let (x_pixels, _) = chart.plotting_area().get_pixel_range();
    chart.plotting_area().present().map_err(svg_error)?;
    Ok((x_pixels.start, x_pixels.end))
}

/// One dot per run at (x, y); runs missing either value are left out.
pub fn scatter_chart(points: &[(f64, f64, usize)], x_label: &str, y_label: &str) -> Result<String, String> {
    let x_range = finite_range(points.iter().map(|p| p.0)).unwrap_or((0.0, 1.0));
    let y_range = finite_range(points.iter().map(|p| p.1)).unwrap_or((0.0, 1.0));
    let (xp, yp) = ((x_range.1 - x_range.0) * 0.08, (y_range.1 - y_range.0) * 0.08);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (560, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(svg_error)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(60)
            .build_cartesian_2d(
                (x_range.0 - xp)..(x_range.1 + xp),
                (y_range.0 - yp)..(y_range.1 + yp),
            )
            .map_err(svg_error)?;
        chart
            .configure_mesh()
            .light_line_style(RGBColor(238, 240, 243))
            .x_desc(x_label)
            .y_desc(y_label)
            .label_style(("sans-serif", px(12.0)))
            .axis_desc_style(("sans-serif", px(12.0)))
            .x_label_formatter(&tick)
            .y_label_formatter(&tick)
            .draw()
            .map_err(svg_error)?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|&(x, y, i)| Circle::new((x, y), 6, color(i).filled())),
            )
            .map_err(svg_error)?;
        root.present().map_err(svg_error)?;
    }
    Ok(svg)
}

/// Parallel coordinates: one vertical axis per column, one polyline per run. Each axis is
/// scaled to its own range; missing values break the line. Labels are at body size; an
/// axis where every run has the same value is labelled with it. `brushes` are ranges
/// chosen on axes (by index): runs outside any of them are drawn faint.
pub fn parallel_coordinates(
    axes: &[String],
    lines: &[Vec<Option<f64>>],
    brushes: &[(usize, f64, f64)],
) -> Result<ParallelView, String> {
    const STEP: i32 = 170;
    const LEFT: i32 = 60;
    let width = (axes.len().max(2) as i32 * STEP) as u32;
    let height = 380u32;
    let (top, bottom) = (36i32, height as i32 - 56);
    let x_of = |i: usize| LEFT + i as i32 * STEP;
    let raw: Vec<Option<(f64, f64)>> = (0..axes.len())
        .map(|a| {
            let values = lines.iter().filter_map(|l| l.get(a).copied().flatten());
            let mut range: Option<(f64, f64)> = None;
            for v in values.filter(|v| v.is_finite()) {
                range = Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))));
            }
            range
        })
        .collect();
    let ranges: Vec<(f64, f64)> = (0..axes.len())
        .map(|a| finite_range(lines.iter().filter_map(|l| l.get(a).copied().flatten())).unwrap_or((0.0, 1.0)))
        .collect();
    let y_of = |a: usize, v: f64| {
        let (lo, hi) = ranges[a];
        bottom - ((v - lo) / (hi - lo) * f64::from(bottom - top)).round() as i32
    };
    let selected = |line: &Vec<Option<f64>>| {
        brushes
            .iter()
            .all(|&(a, lo, hi)| line.get(a).copied().flatten().is_some_and(|v| v >= lo && v <= hi))
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(svg_error)?;
        let axis_style = RGBColor(150, 158, 168).stroke_width(1);
        let label_font = ("sans-serif", px(14.0)).into_font().color(&RGBColor(40, 46, 56));
        let tick_font = ("sans-serif", px(13.0)).into_font().color(&RGBColor(90, 98, 108));
        let centered = |font: plotters::style::TextStyle<'static>| {
            font.pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Top,
            ))
        };
        // Faint lines first, so the chosen runs are drawn over them.
        let order: Vec<usize> = (0..lines.len())
            .filter(|&i| !selected(&lines[i]))
            .chain((0..lines.len()).filter(|&i| selected(&lines[i])))
            .collect();
        for i in order {
            let line = &lines[i];
            let style = if selected(line) {
                color(i).stroke_width(2)
            } else {
                RGBColor(215, 219, 225).stroke_width(1)
            };
            let mut segment: Vec<(i32, i32)> = Vec::new();
            for (a, value) in line.iter().enumerate() {
                match value.filter(|v| v.is_finite()) {
                    Some(v) => segment.push((x_of(a), y_of(a, v))),
                    None => {
                        if segment.len() > 1 {
                            root.draw(&PathElement::new(segment.clone(), style))
                                .map_err(svg_error)?;
                        }
                        segment.clear();
                    }
                }
            }
            if segment.len() > 1 {
                root.draw(&PathElement::new(segment, style)).map_err(svg_error)?;
            }
        }
        for (a, name) in axes.iter().enumerate() {
            let x = x_of(a);
            root.draw(&PathElement::new(vec![(x, top), (x, bottom)], axis_style))
                .map_err(svg_error)?;
            let short: String = if name.chars().count() > 22 {
                format!("{}…", name.chars().take(21).collect::<String>())
            } else {
                name.clone()
            };
            root.draw(&Text::new(short, (x, bottom + 10), centered(label_font.clone())))
                .map_err(svg_error)?;
            match raw[a] {
                Some((lo, hi)) if lo == hi => {
                    root.draw(&Text::new(
                        format!("all {}", crate::format::number(lo)),
                        (x, top - 26),
                        centered(tick_font.clone()),
                    ))
                    .map_err(svg_error)?;
                }
                Some((lo, hi)) => {
                    root.draw(&Text::new(
                        crate::format::number(hi),
                        (x, top - 22),
                        centered(tick_font.clone()),
                    ))
                    .map_err(svg_error)?;
                    root.draw(&Text::new(
                        crate::format::number(lo),
                        (x, bottom + 28),
                        centered(tick_font.clone()),
                    ))
                    .map_err(svg_error)?;
                }
                None => {}
            }
            for &(_, lo, hi) in brushes.iter().filter(|b| b.0 == a) {
                let (y1, y2) = (y_of(a, hi.min(ranges[a].1)), y_of(a, lo.max(ranges[a].0)));
                root.draw(&Rectangle::new(
                    [(x - 7, y1), (x + 7, y2)],
                    RGBColor(31, 78, 216).mix(0.25).filled(),
                ))
                .map_err(svg_error)?;
            }
        }
        root.present().map_err(svg_error)?;
    }
    Ok(ParallelView {
        svg,
        width,
        top,
        bottom,
        axes: axes
            .iter()
            .enumerate()
            .map(|(a, name)| ParallelAxis {
                name: name.clone(),
                x: x_of(a),
                lo: ranges[a].0,
                hi: ranges[a].1,
            })
            .collect(),
        selected: lines.iter().map(selected).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_svg() {
        let series = vec![Series {
            label: "a".into(),
            points: (0..50).map(|i| (i as f64, 1.0 / (1.0 + i as f64))).collect(),
        }];
        let options = LineOptions {
            x_label: "step",
            y_label: "loss",
            log_y: true,
            width: 400,
            height: 240,
            x_zoom: None,
        };
        let chart = line_chart(&series, &options).unwrap();
        let svg = chart.svg;
        assert!(svg.starts_with("<svg") && svg.contains("<polyline"));
        assert!(scatter_chart(&[(1.0, 2.0, 0), (2.0, 3.0, 1)], "x", "y")
            .unwrap()
            .contains("<circle"));
        let pc = parallel_coordinates(
            &["a".into(), "b".into(), "same".into()],
            &[
                vec![Some(1.0), Some(2.0), Some(7.0)],
                vec![Some(2.0), None, Some(7.0)],
            ],
            &[(0, 1.5, 3.0)],
        )
        .unwrap();
        assert!(pc.svg.contains("<polyline") || pc.svg.contains("<path"));
        // A constant axis says its value; the brush keeps only the second run.
        assert!(pc.svg.contains("all 7"));
        assert_eq!(pc.selected, vec![false, true]);
        assert_eq!(pc.axes.len(), 3);
    }

    #[test]
    fn smoothing_keeps_length_and_tracks_constant() {
        let points: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 5.0)).collect();
        let s = smooth(&points, 0.9);
        assert_eq!(s.len(), 10);
        assert!(s.iter().all(|(_, y)| (y - 5.0).abs() < 1e-9));
    }
}
