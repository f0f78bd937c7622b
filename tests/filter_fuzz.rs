//! Fuzzes the search-filter parser and its SQL compiler: no input may panic or overflow
//! the stack; every input is parsed or refused with a message. Runs a recorded corpus,
//! nesting at and past the limits, and a few thousand generated inputs.
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use aiops_core::search::sql::{compile_filter, compile_run_order, SqlBuilder, Subject};
use aiops_core::search::{
    parse_experiment_filter, parse_filter, parse_logged_model_filter, parse_order_by, MAX_FILTER_DEPTH,
    MAX_FILTER_LEN, MAX_FILTER_TERMS,
};
use proptest::prelude::*;

/// Parses with every grammar and compiles what parses; must return, never panic.
fn exercise(input: &str) {
    if let Ok(Some(filter)) = parse_filter(input) {
        let mut b = SqlBuilder::new(1);
        let sql = compile_filter(&mut b, Subject::Runs, &filter);
        assert!(!sql.is_empty());
    }
    let _ = parse_experiment_filter(input);
    let _ = parse_logged_model_filter(input);
    if let Ok(order) = parse_order_by(input) {
        let mut b = SqlBuilder::new(1);
        let _ = compile_run_order(&mut b, &[order]);
    }
}

#[test]
fn recorded_corpus() {
    let corpus = include_str!("fuzz/filters.txt");
    let mut count = 0;
    for line in corpus.lines() {
        exercise(line);
        count += 1;
    }
    assert!(count >= 20, "corpus lost lines: {count}");
}

fn nested(depth: usize) -> String {
    format!("{}metrics.a > 1{}", "(".repeat(depth), ")".repeat(depth))
}

#[test]
fn nesting_is_limited_with_a_message() {
    assert!(parse_filter(&nested(MAX_FILTER_DEPTH)).is_ok());
    let err = parse_filter(&nested(MAX_FILTER_DEPTH + 1)).unwrap_err();
    assert!(err.0.contains("levels deep"), "{}", err.0);
    // What crashed the server: ~2,200 levels, and far more.
    for depth in [2_200, 30_000] {
        assert!(parse_filter(&nested(depth)).is_err());
        assert!(parse_experiment_filter(&nested(depth)).is_err());
        assert!(parse_filter(&"(".repeat(depth)).is_err());
    }
}

#[test]
fn length_and_terms_are_limited() {
    let mut at_limit = "params.a = '".to_string();
    at_limit.push_str(&"x".repeat(MAX_FILTER_LEN - at_limit.len() - 1));
    at_limit.push('\'');
    assert_eq!(at_limit.len(), MAX_FILTER_LEN);
    assert!(parse_filter(&at_limit).is_ok());
    let over = format!("{at_limit} ");
    assert!(parse_filter(&over).unwrap_err().0.contains("bytes long"));

    let terms = |n: usize| vec!["metrics.a > 1"; n].join(" and ");
    assert!(parse_filter(&terms(MAX_FILTER_TERMS)).is_ok());
    assert!(parse_filter(&terms(MAX_FILTER_TERMS + 1))
        .unwrap_err()
        .0
        .contains("comparisons"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(input in "\\PC{0,200}") {
        exercise(&input);
    }

    #[test]
    fn grammar_shaped_text_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("("), Just(")"), Just(" and "), Just(" or "), Just("metrics.a"), Just("params.`b`"),
                Just("tags.c.d"), Just(" > "), Just(" = "), Just(" LIKE "), Just(" IN "), Just(" NOT "),
                Just(" IS "), Just("NULL"), Just("'v'"), Just("\"w\""), Just("1.5"), Just("-2e3"), Just(","),
                Just("datasets.name"), Just("attributes.status"), Just("`"), Just("'"), Just("."),
            ],
            0..60,
        )
    ) {
        exercise(&parts.concat());
    }
}
