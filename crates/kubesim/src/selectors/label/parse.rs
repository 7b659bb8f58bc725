//! The label selector lexer and parser (apimachinery labels/selector.go).

use super::{Operator, Requirement, validate_label_key};
use crate::selectors::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Identifier,
    DoesNotExist,
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    OpenPar,
    ClosedPar,
    Comma,
    GreaterThan,
    LessThan,
    EndOfString,
    Error,
}

fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn lex(s: &str) -> Vec<(Tok, String)> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if is_space(c) {
            i += 1;
            continue;
        }
        if is_special(c) {
            // Longest match among the operators.
            let start = i;
            while i < chars.len() && is_special(chars[i]) {
                let candidate: String = chars[start..=i].iter().collect();
                if !matches!(
                    candidate.as_str(),
                    "!" | "!=" | "=" | "==" | "(" | ")" | "," | ">" | "<"
                ) {
                    break;
                }
                i += 1;
            }
            if i == start {
                // Not reachable: every special char alone is an operator.
                i += 1;
            }
            let lit: String = chars[start..i].iter().collect();
            let tok = match lit.as_str() {
                "!" => Tok::DoesNotExist,
                "!=" => Tok::NotEquals,
                "=" => Tok::Equals,
                "==" => Tok::DoubleEquals,
                "(" => Tok::OpenPar,
                ")" => Tok::ClosedPar,
                "," => Tok::Comma,
                ">" => Tok::GreaterThan,
                "<" => Tok::LessThan,
                _ => Tok::Error,
            };
            out.push((tok, lit));
            continue;
        }
        let start = i;
        while i < chars.len() && !is_space(chars[i]) && !is_special(chars[i]) {
            i += 1;
        }
        let lit: String = chars[start..i].iter().collect();
        let tok = match lit.as_str() {
            "in" => Tok::In,
            "notin" => Tok::NotIn,
            _ => Tok::Identifier,
        };
        out.push((tok, lit));
    }
    out.push((Tok::EndOfString, String::new()));
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    tokens: Vec<(Tok, String)>,
    pos: usize,
}

const BINARY_OPERATORS: &str = "in, notin, =, ==, !=, gt, lt";

impl Parser {
    fn lookahead(&self, ctx: Ctx) -> (Tok, String) {
        let (tok, lit) = self
            .tokens
            .get(self.pos)
            .cloned()
            .unwrap_or((Tok::EndOfString, String::new()));
        let tok = match (ctx, tok) {
            (Ctx::Values, Tok::In | Tok::NotIn) => Tok::Identifier,
            (_, t) => t,
        };
        (tok, lit)
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        let r = self.lookahead(ctx);
        if self.pos < self.tokens.len() {
            self.pos += 1;
        }
        r
    }

    fn parse(&mut self) -> Result<Vec<Requirement>> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self.parse_requirement().map_err(|e| {
                        Error::Parse(format!("unable to parse requirement: {}", e.message()))
                    })?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::EndOfString => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(Error::Parse(format!(
                                    "found '{l2}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(Error::Parse(format!(
                                "found '{l}', expected: ',' or 'end of string'"
                            )));
                        }
                    }
                }
                Tok::EndOfString => return Ok(reqs),
                _ => {
                    return Err(Error::Parse(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    )));
                }
            }
        }
    }

    fn parse_requirement(&mut self) -> Result<Requirement> {
        let (key, op) = self.parse_key_and_infer_operator()?;
        if let Some(op) = op {
            return Requirement::new(&key, op, Vec::new());
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            Operator::Equals
            | Operator::DoubleEquals
            | Operator::NotEquals
            | Operator::GreaterThan
            | Operator::LessThan => self.parse_exact_value()?,
            Operator::Exists | Operator::DoesNotExist => Vec::new(),
        };
        Requirement::new(&key, op, values)
    }

    /// The key, and `Exists`/`DoesNotExist` when no binary operator follows.
    fn parse_key_and_infer_operator(&mut self) -> Result<(String, Option<Operator>)> {
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        let mut negated = false;
        if tok == Tok::DoesNotExist {
            negated = true;
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return Err(Error::Parse(format!("found '{lit}', expected: identifier")));
        }
        if let Some(e) = validate_label_key(&lit, "") {
            return Err(Error::Parse(e));
        }
        if negated {
            return Ok((lit, Some(Operator::DoesNotExist)));
        }
        let (t, _) = self.lookahead(Ctx::Values);
        if t == Tok::EndOfString || t == Tok::Comma {
            return Ok((lit, Some(Operator::Exists)));
        }
        Ok((lit, None))
    }

    fn parse_operator(&mut self) -> Result<Operator> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        match tok {
            Tok::In => Ok(Operator::In),
            Tok::Equals => Ok(Operator::Equals),
            Tok::DoubleEquals => Ok(Operator::DoubleEquals),
            Tok::GreaterThan => Ok(Operator::GreaterThan),
            Tok::LessThan => Ok(Operator::LessThan),
            Tok::NotIn => Ok(Operator::NotIn),
            Tok::NotEquals => Ok(Operator::NotEquals),
            Tok::Identifier
            | Tok::DoesNotExist
            | Tok::OpenPar
            | Tok::ClosedPar
            | Tok::Comma
            | Tok::EndOfString
            | Tok::Error => Err(Error::Parse(format!(
                "found '{lit}', expected: {BINARY_OPERATORS}"
            ))),
        }
    }

    fn parse_values(&mut self) -> Result<Vec<String>> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(Error::Parse(format!("found '{lit}' expected: '('")));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        match tok {
            Tok::Identifier | Tok::Comma => {
                let s = self.parse_identifiers_list()?;
                let (t, l) = self.consume(Ctx::Values);
                if t != Tok::ClosedPar {
                    return Err(Error::Parse(format!("found '{l}', expected: ')'")));
                }
                Ok(s)
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                Ok(vec![String::new()])
            }
            _ => Err(Error::Parse(format!(
                "found '{lit}', expected: ',', ')' or identifier"
            ))),
        }
    }

    fn parse_identifiers_list(&mut self) -> Result<Vec<String>> {
        let mut s: Vec<String> = Vec::new();
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    s.push(lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(s),
                        _ => {
                            return Err(Error::Parse(format!(
                                "found '{l2}', expected: ',' or ')'"
                            )));
                        }
                    }
                }
                Tok::Comma => {
                    // `(,a`, `a,)` and `a,,b` each carry an empty value.
                    if s.is_empty() {
                        s.push(String::new());
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Tok::ClosedPar {
                        s.push(String::new());
                        return Ok(s);
                    }
                    if t2 == Tok::Comma {
                        self.consume(Ctx::Values);
                        s.push(String::new());
                    }
                }
                _ => {
                    return Err(Error::Parse(format!(
                        "found '{lit}', expected: ',', or identifier"
                    )));
                }
            }
        }
    }

    fn parse_exact_value(&mut self) -> Result<Vec<String>> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::EndOfString || tok == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Identifier {
            return Ok(vec![lit]);
        }
        Err(Error::Parse(format!("found '{lit}', expected: identifier")))
    }
}

/// The requirements of a selector string, in the order written.
pub(super) fn requirements(s: &str) -> Result<Vec<Requirement>> {
    Parser {
        tokens: lex(s),
        pos: 0,
    }
    .parse()
}
