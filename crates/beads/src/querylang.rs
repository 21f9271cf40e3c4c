//! `bd query`'s expression language, compiled to a SQL condition over `issues i`.
//!
//! `field OP value` comparisons (`= != > >= < <=`) joined by `AND`, `OR` and `NOT` (any case)
//! with parentheses. Text fields (`title`, `description`, `notes`) match by containment; `id`
//! and `spec` take `*` wildcards; `assignee`, `label` and `description` take `none`; dates take
//! `7d` / `24h` / `2w` (that long ago), `tomorrow`, `+2d` or an absolute date; `pinned`,
//! `ephemeral` and `template` take `true`/`false`.

use rusqlite::types::Value as SqlValue;

use crate::error::{Error, Result};
use crate::ids::escape_like;

/// A compiled expression: a SQL condition and its parameters, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Compiled {
    pub sql: String,
    pub params: Vec<SqlValue>,
    /// Whether the expression says anything about `status` (then closed issues are not
    /// hidden by default).
    pub mentions_status: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    And,
    Or,
    Not,
    /// `field`, `op`, `value`.
    Cmp(String, Op, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
        }
    }
}

fn bad(reason: impl Into<String>) -> Error {
    Error::invalid("query", reason)
}

/// Splits the text into words, keeping quoted values (`title="two words"`) and parentheses.
fn words(text: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                let mut closed = false;
                for q in chars.by_ref() {
                    if q == c {
                        closed = true;
                        break;
                    }
                    cur.push(q);
                }
                if !closed {
                    return Err(bad(format!("unclosed {c} in `{text}`")));
                }
            }
            '(' | ')' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            }
            c if c.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

fn tokens(text: &str) -> Result<Vec<Token>> {
    words(text)?
        .into_iter()
        .map(|w| {
            Ok(match w.to_ascii_uppercase().as_str() {
                "(" => Token::Open,
                ")" => Token::Close,
                "AND" => Token::And,
                "OR" => Token::Or,
                "NOT" => Token::Not,
                _ => comparison(&w)?,
            })
        })
        .collect()
}

fn comparison(word: &str) -> Result<Token> {
    let at = word
        .find(['=', '!', '<', '>'])
        .ok_or_else(|| bad(format!("`{word}` is not a comparison like status=open")))?;
    let (field, rest) = word.split_at(at);
    let (op, value) = [
        ("!=", Op::Ne),
        (">=", Op::Ge),
        ("<=", Op::Le),
        ("=", Op::Eq),
        (">", Op::Gt),
        ("<", Op::Lt),
    ]
    .iter()
    .find_map(|(s, op)| rest.strip_prefix(s).map(|v| (*op, v)))
    .ok_or_else(|| bad(format!("`{word}` has no operator")))?;
    if field.is_empty() {
        return Err(bad(format!("`{word}` has no field")));
    }
    Ok(Token::Cmp(field.to_ascii_lowercase(), op, value.to_owned()))
}

/// Compiles `text` with `now` as the reference for relative dates.
pub(crate) fn compile(text: &str, now: jiff::Timestamp) -> Result<Compiled> {
    let tokens = tokens(text)?;
    if tokens.is_empty() {
        return Err(bad("the query is empty"));
    }
    let mut p = Parser {
        tokens,
        at: 0,
        now,
        params: Vec::new(),
        mentions_status: false,
    };
    let sql = p.or()?;
    if p.at != p.tokens.len() {
        return Err(bad(format!("unexpected `{}`", show(&p.tokens[p.at]))));
    }
    Ok(Compiled {
        sql,
        params: p.params,
        mentions_status: p.mentions_status,
    })
}

fn show(t: &Token) -> String {
    match t {
        Token::Open => "(".into(),
        Token::Close => ")".into(),
        Token::And => "AND".into(),
        Token::Or => "OR".into(),
        Token::Not => "NOT".into(),
        Token::Cmp(f, op, v) => format!("{f}{}{v}", op.sql()),
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    now: jiff::Timestamp,
    params: Vec<SqlValue>,
    mentions_status: bool,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn or(&mut self) -> Result<String> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(join(parts, " OR "))
    }

    fn and(&mut self) -> Result<String> {
        let mut parts = vec![self.unary()?];
        while self.peek() == Some(&Token::And) {
            self.at += 1;
            parts.push(self.unary()?);
        }
        Ok(join(parts, " AND "))
    }

    fn unary(&mut self) -> Result<String> {
        let token = self
            .tokens
            .get(self.at)
            .cloned()
            .ok_or_else(|| bad("the query ends too early"))?;
        self.at += 1;
        match token {
            Token::Not => Ok(format!("NOT ({})", self.unary()?)),
            Token::Open => {
                let inner = self.or()?;
                if self.peek() != Some(&Token::Close) {
                    return Err(bad("a `(` is never closed"));
                }
                self.at += 1;
                // `or` and `and` already wrap anything with more than one part.
                Ok(inner)
            }
            Token::Cmp(field, op, value) => self.condition(&field, op, &value),
            other => Err(bad(format!("unexpected `{}`", show(&other)))),
        }
    }

    fn param(&mut self, v: SqlValue) -> &'static str {
        self.params.push(v);
        "?"
    }

    fn condition(&mut self, field: &str, op: Op, value: &str) -> Result<String> {
        let text = |s: &str| SqlValue::Text(s.to_owned());
        let column = |c: &str| -> Option<&'static str> {
            Some(match c {
                "status" => "i.status",
                "type" => "i.issue_type",
                "assignee" => "i.assignee",
                "owner" => "i.owner",
                "mol_type" => "i.mol_type",
                _ => return None,
            })
        };
        if field == "status" {
            self.mentions_status = true;
        }
        let only_eq = |op: Op| {
            if matches!(op, Op::Eq | Op::Ne) {
                Ok(())
            } else {
                Err(bad(format!("`{field}` takes only = or !=")))
            }
        };
        Ok(match field {
            "priority" => {
                let n = crate::model::parse_priority(value)?;
                format!(
                    "i.priority {} {}",
                    op.sql(),
                    self.param(SqlValue::Integer(n))
                )
            }
            "assignee" if value == "none" => {
                only_eq(op)?;
                format!("i.assignee {} ''", op.sql())
            }
            "description" if value == "none" => {
                only_eq(op)?;
                format!("i.description {} ''", op.sql())
            }
            "title" | "description" | "notes" => {
                only_eq(op)?;
                let not = if op == Op::Ne { "NOT " } else { "" };
                let p = self.param(text(&format!("%{}%", escape_like(value))));
                format!("i.{field} {not}LIKE {p} ESCAPE '\\'")
            }
            "id" | "spec" => {
                only_eq(op)?;
                let col = if field == "id" { "i.id" } else { "i.spec_id" };
                let not = if op == Op::Ne { "NOT " } else { "" };
                format!("{col} {not}GLOB {}", self.param(text(value)))
            }
            "label" if value == "none" => {
                only_eq(op)?;
                let not = if op == Op::Eq { "NOT " } else { "" };
                format!("{not}EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id)")
            }
            "label" => {
                only_eq(op)?;
                let not = if op == Op::Ne { "NOT " } else { "" };
                let p = self.param(text(value));
                format!(
                    "{not}EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id AND l.label = {p})"
                )
            }
            "parent" => {
                only_eq(op)?;
                let not = if op == Op::Ne { "NOT " } else { "" };
                let p = self.param(text(value));
                format!(
                    "{not}EXISTS (SELECT 1 FROM dependencies d WHERE d.issue_id = i.id \
                     AND d.type = 'parent-child' AND d.depends_on_id = {p})"
                )
            }
            "pinned" | "ephemeral" | "template" => {
                only_eq(op)?;
                let yes = match value {
                    "true" | "yes" | "1" => 1,
                    "false" | "no" | "0" => 0,
                    _ => return Err(bad(format!("`{field}` takes true or false, not `{value}`"))),
                };
                let col = if field == "template" {
                    "is_template"
                } else {
                    field
                };
                format!("i.{col} {} {yes}", op.sql())
            }
            "created" | "updated" | "started" | "closed" => {
                let col = match field {
                    "created" => "i.created_at",
                    "updated" => "i.updated_at",
                    "started" => "i.started_at",
                    _ => "i.closed_at",
                };
                let at = self.date(value)?;
                format!("{col} {} {}", op.sql(), self.param(text(&at)))
            }
            f => match column(f) {
                Some(col) => format!("{col} {} {}", op.sql(), self.param(text(value))),
                None => return Err(bad(format!("unknown field `{f}`"))),
            },
        })
    }

    /// `7d`, `24h`, `2w`, `30m` mean that long ago; anything else is what `parse_when` reads.
    fn date(&self, value: &str) -> Result<String> {
        let ago = value
            .char_indices()
            .last()
            .filter(|(_, unit)| matches!(unit, 'm' | 'h' | 'd' | 'w'))
            .and_then(|(at, _)| value[..at].parse::<i64>().ok().map(|n| (n, &value[at..])));
        match ago {
            // `parse_when` reads `+-7d` as seven days before now.
            Some((n, unit)) => crate::store::parse_when(&format!("+{}{unit}", -n), self.now),
            None => crate::store::parse_when(value, self.now),
        }
    }
}

fn join(parts: Vec<String>, sep: &str) -> String {
    if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", parts.join(sep))
    }
}

#[cfg(test)]
mod tests {
    use super::compile;

    fn sql(q: &str) -> String {
        compile(q, "2026-01-10T00:00:00Z".parse().unwrap())
            .unwrap()
            .sql
    }

    #[test]
    fn expressions_compile_with_precedence_and_grouping() {
        assert_eq!(sql("status=open"), "i.status = ?");
        assert_eq!(
            sql("status=open AND priority>1 OR type=bug"),
            "((i.status = ? AND i.priority > ?) OR i.issue_type = ?)"
        );
        assert_eq!(
            sql("(status=open or status=blocked) and not label=wontfix"),
            "((i.status = ? OR i.status = ?) AND NOT (EXISTS (SELECT 1 FROM labels l WHERE l.issue_id = i.id AND l.label = ?)))"
        );
        assert_eq!(sql("assignee=none"), "i.assignee = ''");
        assert_eq!(sql(r#"title="two words""#), "i.title LIKE ? ESCAPE '\\'");
    }

    #[test]
    fn relative_dates_are_that_long_ago() {
        let c = compile("updated>7d", "2026-01-10T00:00:00Z".parse().unwrap()).unwrap();
        assert_eq!(c.sql, "i.updated_at > ?");
        assert_eq!(
            c.params,
            [rusqlite::types::Value::Text(
                "2026-01-03T00:00:00.000000Z".into()
            )]
        );
    }

    #[test]
    fn bad_queries_say_what_is_wrong() {
        let now = "2026-01-10T00:00:00Z".parse().unwrap();
        for (q, says) in [
            ("", "empty"),
            ("status", "not a comparison"),
            ("colour=red", "unknown field `colour`"),
            ("(status=open", "never closed"),
            ("status=open AND", "ends too early"),
            ("title>x", "only = or !="),
            ("priority=9", "priority"),
            ("status=open )", "unexpected `)`"),
            (r#"title="open"#, "unclosed"),
        ] {
            let err = compile(q, now).unwrap_err().to_string();
            assert!(err.contains(says), "{q}: {err}");
        }
    }
}
