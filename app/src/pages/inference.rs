//! The inference page: pick a deployment (`?deployment=` in the URL), then send it a test
//! request from a form generated from its input schema (one field per feature, prefilled
//! from the version's example), from the JSON editor (the protocol's request), or from an
//! uploaded CSV file (a batch). Shows the outputs, class probabilities as bars, and the
//! server-side latency of each call. Calls go through the same operation as `/v2/.../infer`.

use aiops_core::deployments::{csv_line, InferenceOutcome, InferenceOutput, InferenceTarget};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crate::format::number;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InferencePageData {
    /// Every deployment ready on this replica.
    pub ready: Vec<String>,
    /// The one picked (the first ready one when none is named).
    pub target: Option<InferenceTarget>,
}

#[server(prefix = "/_app", endpoint = "inference_view")]
pub async fn inference_view(deployment: String) -> Result<InferencePageData, AppError> {
    use aiops_core::deployments::DeploymentStatus;
    let (state, actor) = crate::state::caller()?;
    let ready: Vec<String> = state
        .list_deployments(&actor)
        .await?
        .into_iter()
        .filter(|d| d.status == DeploymentStatus::Ready || d.serving_version.is_some())
        .map(|d| d.name)
        .collect();
    let name = if deployment.is_empty() {
        ready.first().cloned()
    } else {
        Some(deployment)
    };
    let target = match name {
        Some(name) => Some(state.inference_target(&actor, &name).await?),
        None => None,
    };
    Ok(InferencePageData { ready, target })
}

/// One test call: `json` (a request in the protocol's JSON) when given, else `csv` rows.
#[server(prefix = "/_app", endpoint = "test_inference")]
pub async fn test_inference(
    deployment: String,
    csv: String,
    json: String,
) -> Result<InferenceOutcome, AppError> {
    let (state, actor) = crate::state::caller()?;
    Ok(state.test_inference(&actor, &deployment, &csv, &json).await?)
}

/// Rows of an output (its first dimension), each as its values.
fn rows(output: &InferenceOutput) -> Vec<Vec<String>> {
    let width: usize = output
        .shape
        .iter()
        .skip(1)
        .map(|d| usize::try_from(*d).unwrap_or(1))
        .product::<usize>()
        .max(1);
    output.values.chunks(width).map(<[String]>::to_vec).collect()
}

/// Whether an output holds class probabilities: floats, one row of classes per input row.
fn is_probabilities(output: &InferenceOutput) -> bool {
    output.shape.len() == 2
        && matches!(output.datatype.as_str(), "FP32" | "FP64" | "FP16")
        && output.name.to_ascii_lowercase().contains("prob")
        && !output.numbers.is_empty()
}

#[component]
fn ProbabilityBars(output: InferenceOutput) -> impl IntoView {
    let classes = usize::try_from(output.shape.get(1).copied().unwrap_or(0)).unwrap_or(0);
    let first: Vec<f64> = output.numbers.iter().take(classes).copied().collect();
    let best = first
        .iter()
        .enumerate()
        .fold(None::<(usize, f64)>, |best, (i, p)| match best {
            Some((_, bp)) if bp >= *p => best,
            _ => Some((i, *p)),
        })
        .map(|(i, _)| i);
    view! {
        <figure class="card probabilities" data-testid="probabilities">
            <figcaption>{format!("{} (first row)", output.name)}</figcaption>
            {first.into_iter().enumerate().map(|(i, p)| {
                let width = format!("width: {:.1}%", (p * 100.0).clamp(0.0, 100.0));
                view! {
                    <div class="bar-row" class:best={Some(i) == best}>
                        <span class="bar-label">{format!("class {i}")}</span>
                        <span class="bar-track"><span class="bar-fill" style=width></span></span>
                        <span class="bar-value mono">{format!("{:.3}", p)}</span>
                    </div>
                }
            }).collect_view()}
        </figure>
    }
}

#[component]
fn Outcome(outcome: InferenceOutcome) -> impl IntoView {
    let micros = |us: f64| {
        if us >= 1000.0 {
            format!("{} ms", number(us / 1000.0))
        } else {
            format!("{} µs", number(us.round()))
        }
    };
    let latency = format!(
        "Server latency {} (compute {}, queue {}) · version {}",
        micros(outcome.latency_us),
        micros(outcome.compute_us),
        micros(outcome.queue_us),
        outcome.version
    );
    let bars: Vec<InferenceOutput> = outcome
        .outputs
        .iter()
        .filter(|o| is_probabilities(o))
        .cloned()
        .collect();
    view! {
        <section class="card" id="inference-result" aria-live="polite">
            <h2>"Result"</h2>
            <p class="latency" data-testid="latency">{latency}</p>
            {bars.into_iter().map(|o| view! { <ProbabilityBars output=o/> }).collect_view()}
            {outcome.outputs.into_iter().map(|o| {
                let all = rows(&o);
                let shown = all.len().min(50);
                view! {
                    <h3 class="mono">{format!("{} · {} {:?}", o.name, o.datatype, o.shape)}</h3>
                    <table class="table compact" data-output=o.name.clone()>
                        <tbody>
                            {all.into_iter().take(shown).enumerate().map(|(i, row)| view! {
                                <tr><th scope="row">{i}</th>{row.into_iter().map(|v| view! { <td class="mono">{v}</td> }).collect_view()}</tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }
            }).collect_view()}
        </section>
    }
}

#[component]
fn Tester(target: InferenceTarget) -> impl IntoView {
    let call = ServerAction::<TestInference>::new();
    let name = target.deployment.clone();
    let values = RwSignal::new(target.example.clone());
    let json = RwSignal::new(target.example_request.clone());
    let csv_note = RwSignal::new(String::new());
    let (n_form, n_json) = (name.clone(), name.clone());
    let on_form = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let row = csv_line(&values.get_untracked());
        call.dispatch(TestInference {
            deployment: n_form.clone(),
            csv: row,
            json: String::new(),
        });
    };
    let send_json = move |_| {
        call.dispatch(TestInference {
            deployment: n_json.clone(),
            csv: String::new(),
            json: json.get_untracked(),
        });
    };
    #[cfg(feature = "hydrate")]
    let on_file = {
        let name = name.clone();
        move |ev: leptos::ev::Event| {
            use wasm_bindgen::JsCast;
            let Some(input) = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
            else {
                return;
            };
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            let name = name.clone();
            leptos::task::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(text) => {
                        let text = text.as_string().unwrap_or_default();
                        csv_note.set(format!("{} ({} lines)", file.name(), text.lines().count()));
                        call.dispatch(TestInference {
                            deployment: name,
                            csv: text,
                            json: String::new(),
                        });
                    }
                    Err(_) => csv_note.set("The file could not be read".into()),
                }
            });
        }
    };
    #[cfg(not(feature = "hydrate"))]
    let on_file = move |_: leptos::ev::Event| {
        let _ = (&name, csv_note);
    };
    let signature = |specs: &[aiops_core::deployments::SignatureTensor]| {
        specs
            .iter()
            .map(|s| format!("{} {} {:?}", s.name, s.datatype, s.shape))
            .collect::<Vec<_>>()
            .join(" · ")
    };
    view! {
        <p class="muted">
            {format!("{} v{} · inputs: {} · outputs: {}", target.model_name, target.version,
                signature(&target.inputs), signature(&target.outputs))}
        </p>
        <div class="inference-grid">
            <form class="card" id="inference-form" on:submit=on_form>
                <h2>"Form"</h2>
                <p class="muted">{if target.has_example { "Prefilled from the version's input example." } else { "One field per feature." }}</p>
                <div class="fields">
                    {target.fields.iter().enumerate().map(|(i, field)| {
                        let id = format!("field-{i}");
                        view! {
                            <label for=id.clone()>{field.clone()}</label>
                            <input id=id name=field.clone() class="mono"
                                prop:value=move || values.with(|v| v.get(i).cloned().unwrap_or_default())
                                on:input=move |ev| {
                                    let text = event_target_value(&ev);
                                    values.update(|v| if let Some(slot) = v.get_mut(i) { *slot = text; });
                                }/>
                        }
                    }).collect_view()}
                </div>
                <button type="submit" class="button primary">"Predict"</button>
            </form>
            <div class="card">
                <h2>"JSON request"</h2>
                <label for="inference-json" class="muted">"Open Inference Protocol v2, as POST /v2/models/…/infer takes it"</label>
                <textarea id="inference-json" class="mono" rows="12"
                    prop:value=move || json.get()
                    on:input=move |ev| json.set(event_target_value(&ev))></textarea>
                <button type="button" class="button" on:click=send_json>"Send JSON"</button>
                <h2>"CSV batch"</h2>
                <label for="inference-csv" class="muted">"One row per example; a header row is optional"</label>
                <input id="inference-csv" type="file" accept=".csv,text/csv" on:change=on_file/>
                <p class="muted">{move || csv_note.get()}</p>
            </div>
        </div>
        {move || call.pending().get().then(|| view! { <p class="loading">"Running…"</p> })}
        {move || call.value().get().map(|r| match r {
            Ok(outcome) => view! { <Outcome outcome=outcome/> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
        })}
    }
}

#[component]
pub fn InferencePage() -> impl IntoView {
    let query = use_query_map();
    let picked = move || query.read().get("deployment").unwrap_or_default();
    let data = Resource::new(picked, inference_view);
    view! {
        <Title text="Inference"/>
        <section class="page">
            <header class="page-header"><h1>"Inference"</h1></header>
            <Transition fallback=|| view! { <p class="loading">"Loading deployments…"</p> }>
                {move || data.get().map(|r| match r {
                    Err(e) => view! { <p class="error" role="alert">{e.to_string()}</p> }.into_any(),
                    Ok(view) if view.ready.is_empty() && view.target.is_none() => view! {
                        <p class="empty">"Nothing is deployed and ready yet. Deploy a version on the Deployments page."</p>
                    }.into_any(),
                    Ok(view) => {
                        let current = view.target.as_ref().map(|t| t.deployment.clone()).unwrap_or_default();
                        view! {
                            <form class="card inline-form" method="get" action="">
                                <label for="deployment-pick">"Deployment"</label>
                                <select id="deployment-pick" name="deployment">
                                    {view.ready.iter().map(|d| view! {
                                        <option value=d.clone() selected={*d == current}>{d.clone()}</option>
                                    }).collect_view()}
                                </select>
                                <button type="submit" class="button">"Open"</button>
                            </form>
                            {view.target.map(|t| view! { <Tester target=t/> })}
                        }.into_any()
                    }
                })}
            </Transition>
        </section>
    }
}
