//! A server-drawn line chart made interactive in the browser: hovering shows the x value
//! and each series' value there; dragging across selects an x range to zoom to (kept in
//! the URL as `xmin`/`xmax`, so every chart on the page zooms together and the link keeps
//! it); a double click goes back to the whole range.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// One series as drawn, for the hover readout.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HoverSeries {
    pub label: String,
    pub color: String,
    /// (x, y) sorted by x, as drawn (sampled, smoothed).
    pub points: Vec<(f64, f64)>,
}

/// A finished chart and what the browser needs to map a pointer back to data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartView {
    pub svg: String,
    /// The SVG's own width in pixels.
    pub width: u32,
    /// Left and right edges of the plot area, in SVG pixels.
    pub plot_x: (i32, i32),
    /// Data x at those edges.
    pub x_range: (f64, f64),
    pub x_label: String,
    pub series: Vec<HoverSeries>,
}

impl ChartView {
    /// Data x under SVG pixel `px`.
    pub fn x_at(&self, px: f64) -> f64 {
        let (left, right) = (f64::from(self.plot_x.0), f64::from(self.plot_x.1));
        let span = (right - left).max(1.0);
        self.x_range.0 + (px - left) / span * (self.x_range.1 - self.x_range.0)
    }

    /// SVG pixel of data x.
    pub fn px_of(&self, x: f64) -> f64 {
        let (left, right) = (f64::from(self.plot_x.0), f64::from(self.plot_x.1));
        let range = self.x_range.1 - self.x_range.0;
        if range == 0.0 {
            return left;
        }
        left + (x - self.x_range.0) / range * (right - left)
    }

    /// Each series' point nearest to `x`: (label, colour, x, y).
    pub fn readout(&self, x: f64) -> Vec<(String, String, f64, f64)> {
        self.series
            .iter()
            .filter_map(|s| {
                let i = s.points.partition_point(|p| p.0 < x);
                let candidates = [i.checked_sub(1), (i < s.points.len()).then_some(i)];
                let nearest = candidates
                    .into_iter()
                    .flatten()
                    .map(|j| s.points[j])
                    .min_by(|a, b| (a.0 - x).abs().total_cmp(&(b.0 - x).abs()))?;
                Some((s.label.clone(), s.color.clone(), nearest.0, nearest.1))
            })
            .collect()
    }
}

/// A zoom range as it goes into the URL: short, and never "-0".
pub fn zoom_bound(x: f64) -> String {
    let rounded = (x * 1000.0).round() / 1000.0;
    if rounded == 0.0 {
        "0".into()
    } else {
        format!("{rounded}")
    }
}

/// The drawn picture's box (the SVG inside `el`, which may be narrower than its container)
/// and its CSS pixels per SVG pixel, for an SVG `svg_width` pixels wide.
fn picture(el: &leptos::web_sys::HtmlDivElement, svg_width: u32) -> (leptos::web_sys::DomRect, f64) {
    let rect = el
        .query_selector("svg")
        .ok()
        .flatten()
        .map(|svg| svg.get_bounding_client_rect())
        .unwrap_or_else(|| el.get_bounding_client_rect());
    let scale = rect.width() / f64::from(svg_width.max(1));
    (rect, scale)
}

#[component]
pub fn InteractiveChart(chart: ChartView, metric: String) -> impl IntoView {
    let chart = StoredValue::new(chart);
    // Hover position and drag start, in CSS pixels from the chart's left edge.
    let hover = RwSignal::new(None::<(f64, f64)>);
    let drag_from = RwSignal::new(None::<f64>);
    let node = NodeRef::<leptos::html::Div>::new();
    // (CSS x from the left edge, CSS px per SVG px) of a pointer event.
    let locate = move |client_x: i32, client_y: i32| -> Option<(f64, f64, f64)> {
        let el = node.get_untracked()?;
        let (rect, scale) = picture(&el, chart.with_value(|c| c.width));
        Some((
            f64::from(client_x) - rect.left(),
            f64::from(client_y) - rect.top(),
            scale,
        ))
    };
    let navigate = leptos_router::hooks::use_navigate();
    let query = leptos_router::hooks::use_query_map();
    let zoom_to = move |range: Option<(f64, f64)>| {
        let state = crate::view_state::QueryState::from(query.get_untracked());
        let (lo, hi) = range
            .map(|(a, b)| (zoom_bound(a.min(b)), zoom_bound(a.max(b))))
            .unzip();
        let href = crate::view_state::with_query(
            &state,
            &[
                ("xmin", lo.as_deref().unwrap_or("")),
                ("xmax", hi.as_deref().unwrap_or("")),
            ],
        );
        navigate(
            &href,
            leptos_router::NavigateOptions {
                scroll: false,
                ..Default::default()
            },
        );
    };
    let zoom_out = zoom_to.clone();
    let on_move = move |e: leptos::ev::MouseEvent| {
        if let Some((x, y, _)) = locate(e.client_x(), e.client_y()) {
            hover.set(Some((x, y)));
        }
    };
    let on_down = move |e: leptos::ev::MouseEvent| {
        if e.button() == 0 {
            e.prevent_default();
            drag_from.set(locate(e.client_x(), e.client_y()).map(|l| l.0));
        }
    };
    let on_up = move |e: leptos::ev::MouseEvent| {
        let Some(start) = drag_from.get_untracked() else {
            return;
        };
        drag_from.set(None);
        let Some((end, _, scale)) = locate(e.client_x(), e.client_y()) else {
            return;
        };
        if (end - start).abs() < 6.0 || scale <= 0.0 {
            return;
        }
        let (a, b) = chart.with_value(|c| (c.x_at(start / scale), c.x_at(end / scale)));
        zoom_to(Some((a, b)));
    };
    let readout = move || {
        let (x, y) = hover.get()?;
        let el = node.get()?;
        let (rect, scale) = picture(&el, chart.with_value(|c| c.width));
        chart.with_value(|c| {
            let data_x = c.x_at(x / scale);
            let (left, right) = (f64::from(c.plot_x.0) * scale, f64::from(c.plot_x.1) * scale);
            if x < left || x > right {
                return None;
            }
            let rows = c.readout(data_x);
            let first = rows.first()?;
            let guide = c.px_of(first.2) * scale;
            // The box sits on the side of the pointer with more room.
            let side = if x > rect.width() / 2.0 {
                format!("right: {:.0}px", rect.width() - x + 12.0)
            } else {
                format!("left: {:.0}px", x + 12.0)
            };
            let x_text = format!("{} {}", c.x_label, crate::format::number(first.2));
            Some(view! {
                <div class="chart-guide" style=format!("left: {guide:.1}px")></div>
                <div class="chart-tooltip" role="status" style=format!("{side}; top: {:.0}px", (y - 10.0).max(0.0))>
                    <div class="chart-tooltip-x">{x_text}</div>
                    {rows
                        .into_iter()
                        .map(|(label, color, _, value)| view! {
                            <div class="chart-tooltip-row">
                                <span class="swatch" style=format!("background: {color}")></span>
                                <span class="label">{label}</span>
                                <span class="value">{crate::format::number(value)}</span>
                            </div>
                        })
                        .collect_view()}
                </div>
            })
        })
    };
    let selection = move || {
        let start = drag_from.get()?;
        let (x, _) = hover.get()?;
        Some(view! {
            <div class="chart-selection" style=format!("left: {:.0}px; width: {:.0}px", start.min(x), (x - start).abs())></div>
        })
    };
    let svg = chart.with_value(|c| c.svg.clone());
    view! {
        <div
            class="svg interactive"
            node_ref=node
            data-metric=metric
            title="Drag across to zoom; double-click to reset"
            on:mousemove=on_move
            on:mouseleave=move |_| {
                hover.set(None);
                drag_from.set(None);
            }
            on:mousedown=on_down
            on:mouseup=on_up
            on:dblclick=move |_| zoom_out(None)
        >
            <div inner_html=svg></div>
            {readout}
            {selection}
        </div>
    }
}

/// One axis of a parallel-coordinates chart, for choosing a range on it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParallelAxis {
    pub name: String,
    /// The axis' x in SVG pixels.
    pub x: i32,
    /// Values at the axis' bottom and top.
    pub lo: f64,
    pub hi: f64,
}

/// A parallel-coordinates chart and its axes' geometry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParallelView {
    pub svg: String,
    pub width: u32,
    /// Top and bottom of every axis, in SVG pixels.
    pub top: i32,
    pub bottom: i32,
    pub axes: Vec<ParallelAxis>,
    /// Per run (in the lines' order): inside every chosen range.
    pub selected: Vec<bool>,
}

impl ParallelView {
    /// The value at SVG y `py` on axis `a`.
    pub fn value_at(&self, a: usize, py: f64) -> f64 {
        let axis = &self.axes[a];
        let span = f64::from((self.bottom - self.top).max(1));
        axis.lo + (f64::from(self.bottom) - py) / span * (axis.hi - axis.lo)
    }

    /// The axis nearest SVG x `px`, when within 24 px of it.
    pub fn axis_near(&self, px: f64) -> Option<usize> {
        self.axes
            .iter()
            .enumerate()
            .map(|(i, a)| (i, (f64::from(a.x) - px).abs()))
            .filter(|(_, d)| *d <= 24.0)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _)| i)
    }
}

/// A range chosen on a parallel axis: (axis name, low, high).
pub type Brush = (String, f64, f64);

/// The ranges chosen on parallel axes, as the URL keeps them: `name:lo:hi;…`.
pub fn parse_brushes(text: &str) -> Vec<Brush> {
    text.split(';')
        .filter_map(|part| {
            let mut it = part.rsplitn(3, ':');
            let hi: f64 = it.next()?.parse().ok()?;
            let lo: f64 = it.next()?.parse().ok()?;
            let name = it.next()?.to_string();
            (lo.is_finite() && hi.is_finite() && lo <= hi && !name.is_empty()).then_some((name, lo, hi))
        })
        .collect()
}

fn brushes_text(brushes: &[Brush]) -> String {
    brushes
        .iter()
        .map(|(n, lo, hi)| format!("{n}:{}:{}", zoom_bound(*lo), zoom_bound(*hi)))
        .collect::<Vec<_>>()
        .join(";")
}

/// Parallel coordinates where dragging along an axis chooses a range on it (kept in the
/// URL as `pc`), and a double click on an axis clears its range.
#[component]
pub fn InteractiveParallel(chart: ParallelView) -> impl IntoView {
    let chart = StoredValue::new(chart);
    let node = NodeRef::<leptos::html::Div>::new();
    // (axis, start y, current y) in SVG pixels while dragging.
    let drag = RwSignal::new(None::<(usize, f64, f64)>);
    let to_svg = move |client_x: i32, client_y: i32| -> Option<(f64, f64)> {
        let el = node.get_untracked()?;
        let (rect, scale) = picture(&el, chart.with_value(|c| c.width));
        let scale = scale.max(f64::MIN_POSITIVE);
        Some((
            (f64::from(client_x) - rect.left()) / scale,
            (f64::from(client_y) - rect.top()) / scale,
        ))
    };
    let navigate = leptos_router::hooks::use_navigate();
    let query = leptos_router::hooks::use_query_map();
    let set_brushes = move |change: &dyn Fn(&mut Vec<Brush>)| {
        let state = crate::view_state::QueryState::from(query.get_untracked());
        let mut brushes = parse_brushes(&state.get("pc"));
        change(&mut brushes);
        let href = crate::view_state::with_query(&state, &[("pc", brushes_text(&brushes).as_str())]);
        navigate(
            &href,
            leptos_router::NavigateOptions {
                scroll: false,
                ..Default::default()
            },
        );
    };
    let clear = set_brushes.clone();
    let on_down = move |e: leptos::ev::MouseEvent| {
        let Some((x, y)) = to_svg(e.client_x(), e.client_y()) else {
            return;
        };
        if let Some(a) = chart.with_value(|c| c.axis_near(x)) {
            e.prevent_default();
            drag.set(Some((a, y, y)));
        }
    };
    let on_move = move |e: leptos::ev::MouseEvent| {
        if let (Some((a, start, _)), Some((_, y))) =
            (drag.get_untracked(), to_svg(e.client_x(), e.client_y()))
        {
            drag.set(Some((a, start, y)));
        }
    };
    let on_up = move |_| {
        let Some((a, start, end)) = drag.get_untracked() else {
            return;
        };
        drag.set(None);
        if (end - start).abs() < 4.0 {
            return;
        }
        let (name, v1, v2) =
            chart.with_value(|c| (c.axes[a].name.clone(), c.value_at(a, start), c.value_at(a, end)));
        set_brushes(&|b: &mut Vec<Brush>| {
            b.retain(|(n, ..)| *n != name);
            b.push((name.clone(), v1.min(v2), v1.max(v2)));
        });
    };
    let on_dblclick = move |e: leptos::ev::MouseEvent| {
        let Some((x, _)) = to_svg(e.client_x(), e.client_y()) else {
            return;
        };
        if let Some(name) = chart.with_value(|c| c.axis_near(x).map(|a| c.axes[a].name.clone())) {
            clear(&|b: &mut Vec<Brush>| b.retain(|(n, ..)| *n != name));
        }
    };
    let band = move || {
        let (a, start, end) = drag.get()?;
        let el = node.get()?;
        let (_, scale) = picture(&el, chart.with_value(|c| c.width));
        let x = f64::from(chart.with_value(|c| c.axes[a].x));
        Some(view! {
            <div class="parallel-band" style=format!(
                "left: {:.0}px; top: {:.0}px; height: {:.0}px",
                (x - 8.0) * scale,
                start.min(end) * scale,
                (end - start).abs() * scale
            )></div>
        })
    };
    let svg = chart.with_value(|c| c.svg.clone());
    view! {
        <div
            class="svg interactive parallel"
            id="parallel"
            node_ref=node
            title="Drag along an axis to keep a range; double-click an axis to clear it"
            on:mousedown=on_down
            on:mousemove=on_move
            on:mouseup=on_up
            on:mouseleave=move |_| drag.set(None)
            on:dblclick=on_dblclick
        >
            <div inner_html=svg></div>
            {band}
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart() -> ChartView {
        ChartView {
            width: 500,
            plot_x: (100, 500),
            x_range: (0.0, 40.0),
            x_label: "step".into(),
            series: vec![HoverSeries {
                label: "a".into(),
                color: "red".into(),
                points: vec![(0.0, 1.0), (10.0, 2.0), (20.0, 3.0)],
            }],
            ..ChartView::default()
        }
    }

    #[test]
    fn maps_pixels_to_data_and_finds_the_nearest_point() {
        let c = chart();
        assert_eq!(c.x_at(100.0), 0.0);
        assert_eq!(c.x_at(300.0), 20.0);
        assert_eq!(c.px_of(20.0), 300.0);
        assert_eq!(c.readout(14.0)[0].2, 10.0);
        assert_eq!(c.readout(16.0)[0].3, 3.0);
        // Past the last point: the last point.
        assert_eq!(c.readout(39.0)[0].2, 20.0);
        assert_eq!(zoom_bound(-0.0001), "0");
        assert_eq!(zoom_bound(12.34567), "12.346");
    }

    #[test]
    fn brushes_round_trip_and_axes_map_values() {
        let b = parse_brushes("metrics.acc:0.5:0.9;params.a:b:1:2;bad;x:3:1");
        assert_eq!(
            b,
            vec![("metrics.acc".into(), 0.5, 0.9), ("params.a:b".into(), 1.0, 2.0)]
        );
        assert_eq!(brushes_text(&b), "metrics.acc:0.5:0.9;params.a:b:1:2");
        let view = ParallelView {
            width: 400,
            top: 0,
            bottom: 100,
            axes: vec![ParallelAxis {
                name: "a".into(),
                x: 60,
                lo: 0.0,
                hi: 10.0,
            }],
            ..ParallelView::default()
        };
        assert_eq!(view.value_at(0, 50.0), 5.0);
        assert_eq!(view.axis_near(70.0), Some(0));
        assert_eq!(view.axis_near(100.0), None);
    }
}
