//! Two tiny languages: integer expressions for loop bounds (`1..2^{disks}`) and step
//! conditions (`{{v}}`, `!{{v}}`, `{{v}} == x`, `{{v}} != x`).

use std::collections::BTreeMap;

/// Replaces `{name}` and `{{name}}` with values; an unknown name is an error.
pub fn interpolate(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let double = after.starts_with("{{");
        let open = if double { 2 } else { 1 };
        let close = if double { "}}" } else { "}" };
        let Some(end) = after[open..].find(close) else {
            return Err(format!("unclosed `{{` in `{text}`"));
        };
        let name = after[open..open + end].trim();
        let value = vars
            .get(name)
            .ok_or_else(|| format!("unknown variable `{name}` in `{text}`"))?;
        out.push_str(value);
        rest = &after[open + end + close.len()..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Evaluates an integer expression with `+ - * / ^`, parentheses and unary minus.
pub fn eval_int(expr: &str) -> Result<i64, String> {
    let tokens = tokenize(expr)?;
    let mut p = Parser {
        tokens: &tokens,
        pos: 0,
        src: expr,
    };
    let v = p.sum()?;
    if p.pos != tokens.len() {
        return Err(format!("unexpected `{}` in `{expr}`", tokens[p.pos]));
    }
    Ok(v)
}

/// Evaluates `start..end` (inclusive) after substituting variables.
pub fn eval_range(range: &str, vars: &BTreeMap<String, String>) -> Result<(i64, i64), String> {
    let text = interpolate(range, vars)?;
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("range `{range}` must look like `start..end`"))?;
    let b = b.strip_prefix('=').unwrap_or(b);
    Ok((eval_int(a)?, eval_int(b)?))
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(i64),
    Op(char),
}

impl std::fmt::Display for Tok {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Tok::Num(n) => write!(f, "{n}"),
            Tok::Op(c) => write!(f, "{c}"),
        }
    }
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_digit() {
            let mut n: i64 = 0;
            while let Some(&d) = chars.peek() {
                let Some(v) = d.to_digit(10) else { break };
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(i64::from(v)))
                    .ok_or_else(|| format!("number too large in `{s}`"))?;
                chars.next();
            }
            out.push(Tok::Num(n));
        } else if "+-*/^()".contains(c) {
            out.push(Tok::Op(c));
            chars.next();
        } else {
            return Err(format!("unexpected `{c}` in `{s}`"));
        }
    }
    if out.is_empty() {
        return Err("empty expression".into());
    }
    Ok(out)
}

struct Parser<'a> {
    tokens: &'a [Tok],
    pos: usize,
    src: &'a str,
}

impl Parser<'_> {
    fn peek_op(&self) -> Option<char> {
        match self.tokens.get(self.pos) {
            Some(Tok::Op(c)) => Some(*c),
            _ => None,
        }
    }

    fn overflow(&self) -> String {
        format!("`{}` overflows", self.src)
    }

    fn sum(&mut self) -> Result<i64, String> {
        let mut v = self.product()?;
        while let Some(op @ ('+' | '-')) = self.peek_op() {
            self.pos += 1;
            let r = self.product()?;
            v = if op == '+' {
                v.checked_add(r)
            } else {
                v.checked_sub(r)
            }
            .ok_or_else(|| self.overflow())?;
        }
        Ok(v)
    }

    fn product(&mut self) -> Result<i64, String> {
        let mut v = self.unary()?;
        while let Some(op @ ('*' | '/')) = self.peek_op() {
            self.pos += 1;
            let r = self.unary()?;
            v = if op == '*' {
                v.checked_mul(r).ok_or_else(|| self.overflow())?
            } else if r == 0 {
                return Err(format!("division by zero in `{}`", self.src));
            } else {
                v.checked_div(r).ok_or_else(|| self.overflow())?
            };
        }
        Ok(v)
    }

    fn unary(&mut self) -> Result<i64, String> {
        if self.peek_op() == Some('-') {
            self.pos += 1;
            return self.unary()?.checked_neg().ok_or_else(|| self.overflow());
        }
        self.power()
    }

    fn power(&mut self) -> Result<i64, String> {
        let base = self.atom()?;
        if self.peek_op() == Some('^') {
            self.pos += 1;
            let exp = self.unary()?;
            let exp = u32::try_from(exp)
                .map_err(|_| format!("negative or huge exponent in `{}`", self.src))?;
            return base.checked_pow(exp).ok_or_else(|| self.overflow());
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<i64, String> {
        match self.tokens.get(self.pos) {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(*n)
            }
            Some(Tok::Op('(')) => {
                self.pos += 1;
                let v = self.sum()?;
                if self.peek_op() != Some(')') {
                    return Err(format!("missing `)` in `{}`", self.src));
                }
                self.pos += 1;
                Ok(v)
            }
            Some(t) => Err(format!("unexpected `{t}` in `{}`", self.src)),
            None => Err(format!("`{}` ends too early", self.src)),
        }
    }
}

/// Whether a value counts as true: not empty and not `false`, `0`, `no` or `off`.
pub fn truthy(value: &str) -> bool {
    let v = value.trim().to_ascii_lowercase();
    !(v.is_empty() || v == "false" || v == "0" || v == "no" || v == "off")
}

/// Evaluates a step condition. Operands are substituted with `vars` (`{{v}}` or `{v}`).
pub fn eval_condition(cond: &str, vars: &BTreeMap<String, String>) -> Result<bool, String> {
    let c = cond.trim();
    let operand = |s: &str| -> Result<String, String> {
        let v = interpolate(s.trim(), vars)?;
        let v = v.trim();
        let unquoted = v
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .or_else(|| v.strip_prefix('"').and_then(|v| v.strip_suffix('"')))
            .unwrap_or(v);
        Ok(unquoted.to_owned())
    };
    if let Some((a, b)) = c.split_once("!=") {
        return Ok(operand(a)? != operand(b)?);
    }
    if let Some((a, b)) = c.split_once("==") {
        return Ok(operand(a)? == operand(b)?);
    }
    if let Some(rest) = c.strip_prefix('!') {
        return Ok(!truthy(&operand(rest)?));
    }
    Ok(truthy(&operand(c)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn integer_expressions_follow_precedence() {
        assert_eq!(eval_int("1 + 2 * 3").unwrap(), 7);
        assert_eq!(eval_int("(1 + 2) * 3").unwrap(), 9);
        assert_eq!(eval_int("2^3^2").unwrap(), 512);
        assert_eq!(eval_int("2^10 - 1").unwrap(), 1023);
        assert_eq!(eval_int("-3 + 10 / 3").unwrap(), 0);
        assert!(eval_int("1 / 0").is_err());
        assert!(eval_int("2^64").is_err());
        assert!(eval_int("1 +").is_err());
        assert!(eval_int("(1").is_err());
        assert!(eval_int("x").is_err());
    }

    #[test]
    fn ranges_substitute_variables() {
        let v = vars(&[("disks", "3")]);
        assert_eq!(eval_range("1..2^{disks}", &v).unwrap(), (1, 8));
        assert_eq!(eval_range("0..{{disks}} - 1", &v).unwrap(), (0, 2));
        assert!(eval_range("1..{nope}", &v).is_err());
        assert!(eval_range("5", &v).is_err());
    }

    #[test]
    fn conditions_cover_truth_negation_and_comparison() {
        let v = vars(&[("run", "true"), ("cmd", ""), ("mode", "fast")]);
        assert!(eval_condition("{{run}}", &v).unwrap());
        assert!(!eval_condition("{{cmd}}", &v).unwrap());
        assert!(eval_condition("!{{cmd}}", &v).unwrap());
        assert!(eval_condition("{{mode}} == fast", &v).unwrap());
        assert!(eval_condition("{{mode}} == 'fast'", &v).unwrap());
        assert!(eval_condition("{{mode}} != slow", &v).unwrap());
        assert!(eval_condition("{{missing}}", &v).is_err());
    }
}
