//! Tokenizer and recursive-descent parser for the run search grammar.

use super::{Attribute, Comparison, Entity, Filter, Op, OrderBy, SearchError, Value};

#[derive(Clone, Debug, PartialEq)]
enum Token {
    /// A bare word: identifiers (`metrics.loss`), keywords (`AND`), numbers.
    Word(String),
    /// A 'single' or "double" quoted string.
    Quoted(String),
    /// A `backtick` quoted name part.
    Backticked(String),
    Dot,
    Op(&'static str),
    LParen,
    RParen,
    Comma,
}

fn err(message: impl Into<String>) -> SearchError {
    SearchError(message.into())
}

fn tokenize(input: &str) -> Result<Vec<Token>, SearchError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(err(format!(
            "Search filter is {} bytes long; at most {MAX_FILTER_LEN} are accepted",
            input.len()
        )));
    }
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::LParen);
                i += 1;
            }
            ')' => {
                tokens.push(Token::RParen);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '.' if !chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()) => {
                tokens.push(Token::Dot);
                i += 1;
            }
            '\'' | '"' | '`' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err(err(format!("Unterminated quoted string starting with {quote}"))),
                        Some('\\') if chars.get(i + 1).is_some() => {
                            text.push(chars[i + 1]);
                            i += 2;
                        }
                        // A doubled quote stands for the quote itself, as in SQL.
                        Some(&q) if q == quote && chars.get(i + 1) == Some(&quote) => {
                            text.push(quote);
                            i += 2;
                        }
                        Some(&q) if q == quote => {
                            i += 1;
                            break;
                        }
                        Some(&other) => {
                            text.push(other);
                            i += 1;
                        }
                    }
                }
                tokens.push(if quote == '`' {
                    Token::Backticked(text)
                } else {
                    Token::Quoted(text)
                });
            }
            '=' => {
                tokens.push(Token::Op("="));
                i += if chars.get(i + 1) == Some(&'=') { 2 } else { 1 };
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Op("!="));
                i += 2;
            }
            '<' => match chars.get(i + 1) {
                Some('=') => {
                    tokens.push(Token::Op("<="));
                    i += 2;
                }
                Some('>') => {
                    tokens.push(Token::Op("!="));
                    i += 2;
                }
                _ => {
                    tokens.push(Token::Op("<"));
                    i += 1;
                }
            },
            '>' => {
                if chars.get(i + 1) == Some(&'=') {
                    tokens.push(Token::Op(">="));
                    i += 2;
                } else {
                    tokens.push(Token::Op(">"));
                    i += 1;
                }
            }
            c if is_word_char(c) => {
                let start = i;
                while i < chars.len()
                    && (is_word_char(chars[i]) || (chars[i] == '.' && is_number_start(&chars, start)))
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => return Err(err(format!("Unexpected character '{other}' in search filter"))),
        }
    }
    Ok(tokens)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '+' | ':' | '/')
}

/// Numbers keep their decimal point inside one word (`0.5`, `-1.5e3`).
fn is_number_start(chars: &[char], start: usize) -> bool {
    chars[start].is_ascii_digit()
        || (matches!(chars[start], '-' | '+') && chars.get(start + 1).is_some_and(|c| c.is_ascii_digit()))
}

/// Runs and experiments share the grammar but name different things.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Runs,
    Experiments,
    LoggedModels,
    RegisteredModels,
    ModelVersions,
}

/// Deepest parenthesis nesting a filter may use: the parser, the SQL compiler and the
/// database all recurse per level, and a request must never exhaust a worker's stack.
pub const MAX_FILTER_DEPTH: usize = 32;
/// Longest filter or order-by text accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 64 * 1024;
/// Most comparisons one filter may hold: SQLite refuses expressions deeper than 1,000, and
/// a chain of ANDs is one level per term there.
pub const MAX_FILTER_TERMS: usize = 200;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    target: Target,
    depth: usize,
    terms: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        if self.peek_keyword(keyword) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or_expr(&mut self) -> Result<Filter, SearchError> {
        let mut parts = vec![self.and_expr()?];
        while self.eat_keyword("or") {
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    fn and_expr(&mut self) -> Result<Filter, SearchError> {
        let mut parts = vec![self.primary()?];
        while self.eat_keyword("and") {
            parts.push(self.primary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn primary(&mut self) -> Result<Filter, SearchError> {
        if self.peek() == Some(&Token::LParen) {
            self.pos += 1;
            self.depth += 1;
            if self.depth > MAX_FILTER_DEPTH {
                return Err(err(format!(
                    "Search filter nests parentheses more than {MAX_FILTER_DEPTH} levels deep"
                )));
            }
            let inner = self.or_expr()?;
            self.depth -= 1;
            if self.next() != Some(Token::RParen) {
                return Err(err("Missing closing parenthesis in search filter"));
            }
            return Ok(inner);
        }
        self.comparison().map(Filter::Compare)
    }

    /// `prefix.key` or a bare attribute; keys may be quoted with backticks or double quotes.
    fn identifier(&mut self) -> Result<Entity, SearchError> {
        let (first, first_quoted) = match self.next() {
            Some(Token::Word(w)) => (w, false),
            Some(Token::Backticked(w)) => (w, true),
            Some(Token::Quoted(w)) => (w, true),
            Some(other) => return Err(err(format!("Expected an identifier, found {}", describe(&other)))),
            None => return Err(err("Expected an identifier at the end of the filter")),
        };
        if self.peek() != Some(&Token::Dot) || first_quoted {
            return entity_for(self.target, None, &first);
        }
        self.pos += 1;
        let mut key = String::new();
        loop {
            match self.next() {
                Some(Token::Word(w)) | Some(Token::Backticked(w)) | Some(Token::Quoted(w)) => {
                    key.push_str(&w)
                }
                _ => return Err(err(format!("Expected a key after '{first}.'"))),
            }
            // Unquoted keys may contain dots: tags.mlflow.runName
            if self.peek() == Some(&Token::Dot) {
                self.pos += 1;
                key.push('.');
            } else {
                break;
            }
        }
        entity_for(self.target, Some(&first), &key)
    }

    fn comparison(&mut self) -> Result<Comparison, SearchError> {
        self.terms += 1;
        if self.terms > MAX_FILTER_TERMS {
            return Err(err(format!(
                "Search filter holds more than {MAX_FILTER_TERMS} comparisons"
            )));
        }
        let entity = self.identifier()?;
        let op = match self.next() {
            Some(Token::Op(symbol)) => match symbol {
                "=" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                "<=" => Op::Le,
                ">" => Op::Gt,
                _ => Op::Ge,
            },
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("like") => Op::Like,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("ilike") => Op::ILike,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => Op::In,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                if self.eat_keyword("in") {
                    Op::NotIn
                } else {
                    return Err(err("Expected IN after NOT"));
                }
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("is") => {
                let negated = self.eat_keyword("not");
                if !self.eat_keyword("null") {
                    return Err(err("Expected NULL after IS"));
                }
                return check(Comparison {
                    entity,
                    op: if negated { Op::IsNotNull } else { Op::IsNull },
                    value: Value::None,
                });
            }
            Some(other) => {
                return Err(err(format!(
                    "Expected a comparison operator, found {}",
                    describe(&other)
                )))
            }
            None => return Err(err("Expected a comparison operator at the end of the filter")),
        };
        let value = match op {
            Op::In | Op::NotIn => self.list()?,
            _ => match self.next() {
                Some(Token::Quoted(s)) => Value::Text(s),
                Some(Token::Word(w)) => match w.parse::<f64>() {
                    Ok(n) if n.is_finite() => Value::Number(n),
                    _ => return Err(err(format!("Expected a quoted string or a number, found '{w}'"))),
                },
                Some(other) => return Err(err(format!("Expected a value, found {}", describe(&other)))),
                None => return Err(err("Expected a value at the end of the filter")),
            },
        };
        check(Comparison { entity, op, value })
    }

    fn list(&mut self) -> Result<Value, SearchError> {
        if self.next() != Some(Token::LParen) {
            return Err(err("Expected a parenthesised list after IN, such as ('a', 'b')"));
        }
        let mut items = Vec::new();
        loop {
            match self.next() {
                Some(Token::Quoted(s)) => items.push(s),
                Some(Token::RParen) if items.is_empty() => return Err(err("An IN list must not be empty")),
                _ => return Err(err("IN lists hold quoted strings, such as ('a', 'b')")),
            }
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::RParen) => break,
                _ => return Err(err("Expected ',' or ')' in an IN list")),
            }
        }
        Ok(Value::List(items))
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("'{w}'"),
        Token::Quoted(s) | Token::Backticked(s) => format!("'{s}'"),
        Token::Dot => "'.'".into(),
        Token::Op(o) => format!("'{o}'"),
        Token::LParen => "'('".into(),
        Token::RParen => "')'".into(),
        Token::Comma => "','".into(),
    }
}

fn entity_for(target: Target, prefix: Option<&str>, key: &str) -> Result<Entity, SearchError> {
    if key.is_empty() {
        return Err(err("Empty key in search filter"));
    }
    let prefix = prefix.map(str::to_ascii_lowercase);
    if target == Target::LoggedModels {
        return match prefix.as_deref() {
            Some("tags" | "tag") => Ok(Entity::Tag(key.to_string())),
            Some("params" | "param") => Ok(Entity::Param(key.to_string())),
            Some("metrics" | "metric") => Ok(Entity::Metric(key.to_string())),
            Some("attributes" | "attribute" | "attr") | None => {
                Attribute::parse_logged_model(key).map(Entity::Attribute).ok_or_else(|| {
                    err(format!(
                        "Invalid attribute key '{key}' specified. Valid keys are name, model_id, source_run_id, \
                         status, model_type, creation_time, last_updated_timestamp"
                    ))
                })
            }
            Some(other) => Err(err(format!("Invalid entity type '{other}' for logged models"))),
        };
    }
    if matches!(target, Target::RegisteredModels | Target::ModelVersions) {
        let (parse, valid): (fn(&str) -> Option<Attribute>, &str) = if target == Target::RegisteredModels {
            (
                Attribute::parse_registered_model,
                "name, creation_timestamp, last_updated_timestamp",
            )
        } else {
            (
                Attribute::parse_model_version,
                "name, version_number, run_id, source_path, current_stage, user_id, creation_timestamp, \
                 last_updated_timestamp",
            )
        };
        return match prefix.as_deref() {
            Some("tags" | "tag") => Ok(Entity::Tag(key.to_string())),
            Some("attributes" | "attribute" | "attr") | None => {
                parse(key).map(Entity::Attribute).ok_or_else(|| {
                    err(format!(
                        "Invalid attribute key '{key}' specified. Valid keys are {valid}"
                    ))
                })
            }
            Some(other) => Err(err(format!(
                "Invalid entity type '{other}'. Valid values are tags, attributes"
            ))),
        };
    }
    if target == Target::Experiments {
        return match prefix.as_deref() {
            Some("tags" | "tag") => Ok(Entity::Tag(key.to_string())),
            Some("attributes" | "attribute" | "attr") | None => Attribute::parse_experiment(key)
                .map(Entity::Attribute)
                .ok_or_else(|| {
                    err(format!(
                        "Invalid attribute key '{key}' specified. Valid keys are name, experiment_id, \
                         creation_time, last_update_time"
                    ))
                }),
            Some(other) => Err(err(format!(
                "Invalid entity type '{other}'. Valid values are tags, attributes"
            ))),
        };
    }
    match prefix.as_deref() {
        Some("metrics" | "metric") => Ok(Entity::Metric(key.to_string())),
        Some("params" | "param" | "parameter" | "parameters") => Ok(Entity::Param(key.to_string())),
        Some("tags" | "tag") => Ok(Entity::Tag(key.to_string())),
        Some("attributes" | "attribute" | "attr" | "run") | None => Attribute::parse(key)
            .map(Entity::Attribute)
            .ok_or_else(|| {
                err(format!(
                    "Invalid attribute key '{key}' specified. Valid keys are run_id, run_name, status, user_id, \
                     artifact_uri, start_time, end_time"
                ))
            }),
        Some("datasets" | "dataset") => match key {
            "name" | "digest" | "context" => Ok(Entity::Dataset(key.to_string())),
            _ => Err(err(format!("Invalid dataset key '{key}'. Valid keys are name, digest, context"))),
        },
        Some(other) => Err(err(format!(
            "Invalid entity type '{other}'. Valid values are metrics, params, tags, attributes, datasets"
        ))),
    }
}

/// Refuses comparisons that make no sense for their entity, with MLflow's kind of message.
fn check(c: Comparison) -> Result<Comparison, SearchError> {
    let numeric_entity = match &c.entity {
        Entity::Metric(_) => true,
        Entity::Attribute(a) => a.is_numeric(),
        _ => false,
    };
    let ok = match (&c.op, &c.value) {
        (Op::IsNull | Op::IsNotNull, _) => true,
        (op, Value::Number(_)) => numeric_entity && op.is_numeric(),
        (Op::Eq | Op::Ne | Op::Like | Op::ILike, Value::Text(_)) => !numeric_entity,
        (Op::In | Op::NotIn, Value::List(_)) => !matches!(c.entity, Entity::Metric(_)) && !numeric_entity,
        _ => false,
    };
    if ok {
        return Ok(c);
    }
    let what = match &c.entity {
        Entity::Metric(k) => format!("metric '{k}'"),
        Entity::Param(k) => format!("param '{k}'"),
        Entity::Tag(k) => format!("tag '{k}'"),
        Entity::Attribute(a) => format!("attribute {a:?}"),
        Entity::Dataset(k) => format!("dataset {k}"),
    };
    let expected = if numeric_entity {
        "a number with one of =, !=, <, <=, >, >="
    } else {
        "a quoted string with one of =, !=, LIKE, ILIKE, or a list with IN / NOT IN"
    };
    Err(err(format!(
        "Invalid comparison '{}' for {what}: expected {expected}",
        c.op.symbol()
    )))
}

/// Parses a filter; an empty or blank filter is `None` (match everything).
pub fn parse_filter(input: &str) -> Result<Option<Filter>, SearchError> {
    parse_filter_for(Target::Runs, input)
}

/// Parses an experiment search filter (`name LIKE 'x%'`, `tags.team = 'a'`, `creation_time > 0`).
pub fn parse_experiment_filter(input: &str) -> Result<Option<Filter>, SearchError> {
    parse_filter_for(Target::Experiments, input)
}

/// Parses a logged-model search filter (`name = 'model'`, `source_run_id = '…'`, `tags.k = 'v'`).
pub fn parse_logged_model_filter(input: &str) -> Result<Option<Filter>, SearchError> {
    parse_filter_for(Target::LoggedModels, input)
}

/// Parses a registered-model search filter (`name LIKE 'churn%'`, `tags.team = 'fraud'`).
pub fn parse_registered_model_filter(input: &str) -> Result<Option<Filter>, SearchError> {
    parse_filter_for(Target::RegisteredModels, input)
}

/// Parses a model-version search filter (`name = 'churn'`, `run_id IN ('a', 'b')`, `tags.k = 'v'`).
pub fn parse_model_version_filter(input: &str) -> Result<Option<Filter>, SearchError> {
    parse_filter_for(Target::ModelVersions, input)
}

pub fn parse_registered_model_order_by(input: &str) -> Result<OrderBy, SearchError> {
    parse_order_by_for(Target::RegisteredModels, input)
}

pub fn parse_model_version_order_by(input: &str) -> Result<OrderBy, SearchError> {
    parse_order_by_for(Target::ModelVersions, input)
}

/// Parses an experiment `order_by` clause (`name`, `creation_time DESC`, ...).
pub fn parse_experiment_order_by(input: &str) -> Result<OrderBy, SearchError> {
    parse_order_by_for(Target::Experiments, input)
}

fn parse_filter_for(target: Target, input: &str) -> Result<Option<Filter>, SearchError> {
    if input.trim().is_empty() {
        return Ok(None);
    }
    let mut parser = Parser {
        tokens: tokenize(input)?,
        pos: 0,
        target,
        depth: 0,
        terms: 0,
    };
    let filter = parser.or_expr()?;
    if let Some(extra) = parser.peek() {
        return Err(err(format!(
            "Unexpected {} in search filter; join conditions with AND or OR",
            describe(extra)
        )));
    }
    Ok(Some(filter))
}

/// Parses one `order_by` clause: `metrics.loss DESC`, `attributes.start_time`, `params.lr ASC`.
pub fn parse_order_by(input: &str) -> Result<OrderBy, SearchError> {
    parse_order_by_for(Target::Runs, input)
}

fn parse_order_by_for(target: Target, input: &str) -> Result<OrderBy, SearchError> {
    let mut parser = Parser {
        tokens: tokenize(input)?,
        pos: 0,
        target,
        depth: 0,
        terms: 0,
    };
    let entity = parser
        .identifier()
        .map_err(|e| err(format!("Invalid order_by clause '{input}': {e}")))?;
    let ascending = if parser.eat_keyword("desc") {
        false
    } else {
        parser.eat_keyword("asc");
        true
    };
    if parser.peek().is_some() {
        return Err(err(format!("Invalid order_by clause '{input}'")));
    }
    if matches!(entity, Entity::Dataset(_)) {
        return Err(err(format!(
            "Invalid order_by clause '{input}': datasets cannot be ordered by"
        )));
    }
    Ok(OrderBy { entity, ascending })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(entity: Entity, op: Op, value: Value) -> Filter {
        Filter::Compare(Comparison { entity, op, value })
    }

    #[test]
    fn parses_mlflow_filters() {
        let f = parse_filter("metrics.acc > 0.9 and params.model = 'cnn'")
            .ok()
            .flatten();
        assert_eq!(
            f,
            Some(Filter::And(vec![
                cmp(Entity::Metric("acc".into()), Op::Gt, Value::Number(0.9)),
                cmp(Entity::Param("model".into()), Op::Eq, Value::Text("cnn".into())),
            ]))
        );
        let f = parse_filter("tags.`mlflow.runName` LIKE 'base%'").ok().flatten();
        assert_eq!(
            f,
            Some(cmp(
                Entity::Tag("mlflow.runName".into()),
                Op::Like,
                Value::Text("base%".into())
            ))
        );
        let f = parse_filter("tags.mlflow.source.type = 'LOCAL'").ok().flatten();
        assert_eq!(
            f,
            Some(cmp(
                Entity::Tag("mlflow.source.type".into()),
                Op::Eq,
                Value::Text("LOCAL".into())
            ))
        );
        let f = parse_filter("params.\"my param\" != \"x\"").ok().flatten();
        assert_eq!(
            f,
            Some(cmp(
                Entity::Param("my param".into()),
                Op::Ne,
                Value::Text("x".into())
            ))
        );
        let f = parse_filter("attributes.run_id IN ('a', 'b')").ok().flatten();
        assert_eq!(
            f,
            Some(cmp(
                Entity::Attribute(Attribute::RunId),
                Op::In,
                Value::List(vec!["a".into(), "b".into()])
            ))
        );
        let f = parse_filter("run_name = 'x' AND status != 'FAILED' and start_time >= 1.5e3")
            .ok()
            .flatten();
        assert!(matches!(f, Some(Filter::And(parts)) if parts.len() == 3));
        let f = parse_filter("metrics.loss <= -1").ok().flatten();
        assert_eq!(
            f,
            Some(cmp(Entity::Metric("loss".into()), Op::Le, Value::Number(-1.0)))
        );
        assert_eq!(parse_filter("  "), Ok(None));
    }

    #[test]
    fn parses_extensions() {
        let f = parse_filter("(metrics.a > 1 OR metrics.b < 2) AND params.x IS NOT NULL")
            .ok()
            .flatten();
        assert_eq!(
            f,
            Some(Filter::And(vec![
                Filter::Or(vec![
                    cmp(Entity::Metric("a".into()), Op::Gt, Value::Number(1.0)),
                    cmp(Entity::Metric("b".into()), Op::Lt, Value::Number(2.0)),
                ]),
                cmp(Entity::Param("x".into()), Op::IsNotNull, Value::None),
            ]))
        );
        assert!(parse_filter("metrics.m IS NULL").is_ok());
    }

    #[test]
    fn refuses_nonsense_with_a_reason() {
        for bad in [
            "metrics.acc > 'high'",
            "params.lr > 0.1",
            "metrics.acc",
            "metrics.acc >",
            "foo.bar = 'x'",
            "bogus_attribute = 'x'",
            "params.a = 'x' params.b = 'y'",
            "(metrics.a > 1",
            "params.a = 'unterminated",
            "params.a IN ()",
            "metrics.a IN ('1')",
            "start_time = 'yesterday'",
            "params.a ~ 'x'",
            "params.a = 1; DROP TABLE runs",
        ] {
            assert!(parse_filter(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn parses_order_by() {
        assert_eq!(
            parse_order_by("metrics.loss DESC"),
            Ok(OrderBy {
                entity: Entity::Metric("loss".into()),
                ascending: false
            })
        );
        assert_eq!(
            parse_order_by("attributes.start_time"),
            Ok(OrderBy {
                entity: Entity::Attribute(Attribute::StartTime),
                ascending: true
            })
        );
        assert_eq!(
            parse_order_by("params.`a b` asc"),
            Ok(OrderBy {
                entity: Entity::Param("a b".into()),
                ascending: true
            })
        );
        assert!(parse_order_by("metrics.loss sideways").is_err());
        assert!(parse_order_by("").is_err());
    }
}
