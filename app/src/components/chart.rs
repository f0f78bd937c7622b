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
        let rect = el.get_bounding_client_rect();
        let scale = rect.width() / f64::from(chart.with_value(|c| c.width).max(1));
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
        let rect = el.get_bounding_client_rect();
        let scale = rect.width() / f64::from(chart.with_value(|c| c.width).max(1));
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
}
