//! A small backtracking regular-expression matcher for `pattern` checks on variables, so the
//! store does not need a regex engine. Supports literals, `.`, classes (`[a-z0-9_-]`,
//! `[^x]`), `\d \w \s` and their negations, escapes, groups, `|`, `^`, `$`, and the
//! quantifiers `* + ? {n} {n,} {n,m}`. Like other engines it searches unless anchored.

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    root: Node,
}

#[derive(Debug, Clone)]
struct Node(Vec<Vec<Item>>);

#[derive(Debug, Clone)]
struct Item {
    atom: Atom,
    min: usize,
    max: usize,
}

#[derive(Debug, Clone)]
enum Atom {
    Char(char),
    Any,
    Class(Vec<ClassPart>, bool),
    Group(Node),
    Start,
    End,
}

#[derive(Debug, Clone)]
enum ClassPart {
    Range(char, char),
    Digit(bool),
    Word(bool),
    Space(bool),
}

impl ClassPart {
    fn matches(&self, c: char) -> bool {
        match *self {
            ClassPart::Range(a, b) => a <= c && c <= b,
            ClassPart::Digit(neg) => c.is_ascii_digit() != neg,
            ClassPart::Word(neg) => (c.is_alphanumeric() || c == '_') != neg,
            ClassPart::Space(neg) => c.is_whitespace() != neg,
        }
    }
}

const MAX_REPEAT: usize = usize::MAX;

impl Pattern {
    /// Compiles a pattern, or says what is wrong with it.
    pub fn new(src: &str) -> Result<Self, String> {
        let chars: Vec<char> = src.chars().collect();
        let mut p = Compiler {
            s: &chars,
            pos: 0,
            src,
        };
        let root = p.alternation()?;
        if p.pos != chars.len() {
            return Err(format!("unbalanced `)` in pattern `{src}`"));
        }
        Ok(Self { root })
    }

    /// Whether the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let s: Vec<char> = text.chars().collect();
        (0..=s.len()).any(|start| match_node(&self.root, &s, start, &|_| true))
    }
}

struct Compiler<'a> {
    s: &'a [char],
    pos: usize,
    src: &'a str,
}

impl Compiler<'_> {
    fn peek(&self) -> Option<char> {
        self.s.get(self.pos).copied()
    }

    fn err(&self, what: &str) -> String {
        format!("{what} in pattern `{}`", self.src)
    }

    fn alternation(&mut self) -> Result<Node, String> {
        let mut alts = vec![self.sequence()?];
        while self.peek() == Some('|') {
            self.pos += 1;
            alts.push(self.sequence()?);
        }
        Ok(Node(alts))
    }

    fn sequence(&mut self) -> Result<Vec<Item>, String> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            let (min, max) = self.quantifier()?;
            items.push(Item { atom, min, max });
        }
        Ok(items)
    }

    fn atom(&mut self) -> Result<Atom, String> {
        let Some(c) = self.peek() else {
            return Err(self.err("unexpected end"));
        };
        self.pos += 1;
        Ok(match c {
            '.' => Atom::Any,
            '^' => Atom::Start,
            '$' => Atom::End,
            '(' => {
                if self.s[self.pos..].starts_with(&['?', ':']) {
                    self.pos += 2;
                }
                let node = self.alternation()?;
                if self.peek() != Some(')') {
                    return Err(self.err("missing `)`"));
                }
                self.pos += 1;
                Atom::Group(node)
            }
            '[' => self.class()?,
            '\\' => match self.escape()? {
                ClassPart::Range(a, _) => Atom::Char(a),
                other => Atom::Class(vec![other], false),
            },
            '*' | '+' | '?' | '{' => {
                return Err(self.err(&format!("nothing to repeat before `{c}`")));
            }
            c => Atom::Char(c),
        })
    }

    fn escape(&mut self) -> Result<ClassPart, String> {
        let Some(c) = self.peek() else {
            return Err(self.err("trailing `\\`"));
        };
        self.pos += 1;
        Ok(match c {
            'd' => ClassPart::Digit(false),
            'D' => ClassPart::Digit(true),
            'w' => ClassPart::Word(false),
            'W' => ClassPart::Word(true),
            's' => ClassPart::Space(false),
            'S' => ClassPart::Space(true),
            'n' => ClassPart::Range('\n', '\n'),
            't' => ClassPart::Range('\t', '\t'),
            c if c.is_ascii_alphanumeric() => {
                return Err(self.err(&format!("unsupported escape `\\{c}`")));
            }
            c => ClassPart::Range(c, c),
        })
    }

    fn class(&mut self) -> Result<Atom, String> {
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut parts = Vec::new();
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("missing `]`"));
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            self.pos += 1;
            let part = if c == '\\' {
                self.escape()?
            } else {
                ClassPart::Range(c, c)
            };
            if let ClassPart::Range(lo, _) = part
                && self.peek() == Some('-')
                && self.s.get(self.pos + 1).is_some_and(|n| *n != ']')
            {
                self.pos += 1;
                let hi = match self.peek() {
                    Some('\\') => {
                        self.pos += 1;
                        match self.escape()? {
                            ClassPart::Range(h, _) => h,
                            _ => return Err(self.err("bad range end")),
                        }
                    }
                    Some(h) => {
                        self.pos += 1;
                        h
                    }
                    None => return Err(self.err("missing `]`")),
                };
                if hi < lo {
                    return Err(self.err(&format!("reversed range `{lo}-{hi}`")));
                }
                parts.push(ClassPart::Range(lo, hi));
            } else {
                parts.push(part);
            }
        }
        Ok(Atom::Class(parts, negated))
    }

    fn quantifier(&mut self) -> Result<(usize, usize), String> {
        let q = match self.peek() {
            Some('*') => (0, MAX_REPEAT),
            Some('+') => (1, MAX_REPEAT),
            Some('?') => (0, 1),
            Some('{') => {
                let rest: String = self.s[self.pos + 1..].iter().collect();
                let Some(end) = rest.find('}') else {
                    return Err(self.err("missing `}`"));
                };
                let body = &rest[..end];
                let num = |s: &str| {
                    s.trim()
                        .parse::<usize>()
                        .map_err(|_| self.err(&format!("bad repeat `{{{body}}}`")))
                };
                let (min, max) = match body.split_once(',') {
                    None => {
                        let n = num(body)?;
                        (n, n)
                    }
                    Some((a, "")) => (num(a)?, MAX_REPEAT),
                    Some((a, b)) => (num(a)?, num(b)?),
                };
                if max < min {
                    return Err(self.err(&format!("bad repeat `{{{body}}}`")));
                }
                self.pos += end + 1;
                (min, max)
            }
            _ => return Ok((1, 1)),
        };
        self.pos += 1;
        Ok(q)
    }
}

fn match_node(node: &Node, s: &[char], pos: usize, k: &dyn Fn(usize) -> bool) -> bool {
    node.0.iter().any(|seq| match_seq(seq, s, pos, k))
}

fn match_seq(seq: &[Item], s: &[char], pos: usize, k: &dyn Fn(usize) -> bool) -> bool {
    match seq.split_first() {
        None => k(pos),
        Some((item, rest)) => match_rep(item, 0, rest, s, pos, k),
    }
}

fn match_rep(
    item: &Item,
    count: usize,
    rest: &[Item],
    s: &[char],
    pos: usize,
    k: &dyn Fn(usize) -> bool,
) -> bool {
    if count < item.max {
        let more = |p: usize| {
            // An empty iteration past the minimum would loop forever.
            (p != pos || count < item.min) && match_rep(item, count + 1, rest, s, p, k)
        };
        if match_atom(&item.atom, s, pos, &more) {
            return true;
        }
    }
    count >= item.min && match_seq(rest, s, pos, k)
}

fn match_atom(atom: &Atom, s: &[char], pos: usize, k: &dyn Fn(usize) -> bool) -> bool {
    match atom {
        Atom::Start => pos == 0 && k(pos),
        Atom::End => pos == s.len() && k(pos),
        Atom::Group(node) => match_node(node, s, pos, k),
        Atom::Char(c) => s.get(pos) == Some(c) && k(pos + 1),
        Atom::Any => s.get(pos).is_some_and(|c| *c != '\n') && k(pos + 1),
        Atom::Class(parts, negated) => {
            s.get(pos)
                .is_some_and(|c| parts.iter().any(|p| p.matches(*c)) != *negated)
                && k(pos + 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn m(p: &str, t: &str) -> bool {
        Pattern::new(p).unwrap().is_match(t)
    }

    #[test]
    fn anchors_classes_and_quantifiers() {
        assert!(m("^[a-z][a-z0-9-]*$", "gt-abc1"));
        assert!(!m("^[a-z][a-z0-9-]*$", "1abc"));
        assert!(m("^\\d{3,4}$", "123"));
        assert!(!m("^\\d{3,4}$", "12345"));
        assert!(m("^v\\d+\\.\\d+$", "v1.20"));
        assert!(!m("^v\\d+\\.\\d+$", "v1x20"));
        assert!(m("^(main|master)$", "master"));
        assert!(!m("^(main|master)$", "mainx"));
        assert!(m("b+", "abbbc"));
        assert!(m("^[^ ]+$", "no-spaces"));
        assert!(!m("^[^ ]+$", "has space"));
        assert!(m("^(ab)*$", ""));
        assert!(m("^a?b$", "b"));
        assert!(m("^.*$", "anything"));
    }

    #[test]
    fn bad_patterns_are_rejected() {
        assert!(Pattern::new("(a").is_err());
        assert!(Pattern::new("a)").is_err());
        assert!(Pattern::new("[a-").is_err());
        assert!(Pattern::new("*a").is_err());
        assert!(Pattern::new("a{3,1}").is_err());
        assert!(Pattern::new("\\q").is_err());
    }
}
