//! Splitting a command line into arguments (with PluralKit's quotes) and reading them:
//! words, the rest of the line as one argument, flags, and field values.

use super::ParseError;
use crate::core::{
    privacy::{Level, Subject, Target, subject_list},
    profile::{self, Kind},
};

/// One whitespace-separated argument, unquoted, with where it started in the input.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub text: String,
    pub start: usize,
}

const QUOTES: [(char, char); 4] = [('"', '"'), ('“', '”'), ('„', '“'), ('«', '»')];

pub(super) fn tokenize(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut text = String::new();
        if let Some(&(_, close)) = QUOTES.iter().find(|(open, _)| *open == c) {
            chars.next();
            let mut closed = false;
            for (_, ch) in chars.by_ref() {
                if ch == close || (close == '"' && ch == '”') {
                    closed = true;
                    break;
                }
                text.push(ch);
            }
            if !closed {
                // An unbalanced quote is taken literally.
                text.insert(0, c);
            }
        } else {
            while let Some(&(_, ch)) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                text.push(ch);
                chars.next();
            }
        }
        tokens.push(Token { text, start });
    }
    tokens
}

/// The parsed line: the raw input and its tokens.
pub(super) struct Args<'a> {
    pub input: &'a str,
    pub tokens: Vec<Token>,
}

impl<'a> Args<'a> {
    pub fn new(input: &'a str) -> Self {
        Self { input, tokens: tokenize(input) }
    }

    /// Token `i`, lower-cased.
    pub fn word(&self, i: usize) -> Option<String> {
        self.tokens.get(i).map(|t| t.text.to_lowercase())
    }

    /// Token `i` as typed (unquoted).
    pub fn text(&self, i: usize) -> Option<String> {
        self.tokens.get(i).map(|t| t.text.clone())
    }

    /// The rest of the input from token `i` on, as one argument: raw text, or the unquoted
    /// token when it is the only (quoted) one.
    pub fn rest(&self, i: usize) -> Option<String> {
        let first = self.tokens.get(i)?;
        if self.tokens.len() == i + 1 {
            return Some(first.text.clone());
        }
        Some(self.input[first.start..].trim().to_owned())
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether token `i` is a confirmation flag (`-y`).
    pub fn is_yes(&self, i: usize) -> bool {
        self.tokens.get(i).is_some_and(|t| is_yes_flag(&t.text))
    }
}

pub(super) fn is_clear_flag(s: &str) -> bool {
    matches!(s.to_lowercase().as_str(), "-clear" | "--clear" | "-c" | "clear" | "-remove" | "-r")
}

fn is_yes_flag(s: &str) -> bool {
    matches!(s.to_lowercase().as_str(), "-y" | "-yes" | "--yes" | "-confirm" | "--confirm")
}

/// What a field command asks: show the value, clear it, or set it (checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldArg {
    Show,
    Clear,
    Set(String),
}

/// Reads a field's value from token `i` on, checked for its kind (`label` names it in errors).
pub(super) fn field_arg(args: &Args<'_>, i: usize, kind: Kind, label: &str) -> Result<FieldArg, ParseError> {
    match args.rest(i) {
        None => Ok(FieldArg::Show),
        Some(v) if is_clear_flag(&v) => Ok(FieldArg::Clear),
        Some(v) => profile::check(kind, label, &v).map(FieldArg::Set).map_err(ParseError),
    }
}

/// A name (system, member, display name): trimmed, one line, within the limit.
pub(super) fn checked_name(name: &str, what: &str) -> Result<String, ParseError> {
    if name.trim().is_empty() {
        return Err(ParseError(format!("The {what} needs a name.")));
    }
    profile::check(Kind::Line(profile::MAX_NAME_CHARS), &format!("{what} name"), name).map_err(ParseError)
}

/// `on`/`off` (and PluralKit's synonyms); `None` when there is no argument.
pub(super) fn toggle(args: &Args<'_>, i: usize, what: &str) -> Result<Option<bool>, ParseError> {
    match args.word(i).as_deref() {
        None => Ok(None),
        Some("on" | "yes" | "true" | "enable" | "enabled" | "1") => Ok(Some(true)),
        Some("off" | "no" | "false" | "disable" | "disabled" | "0") => Ok(Some(false)),
        Some(_) => Err(ParseError(format!("Say `on` or `off` for {what}."))),
    }
}

/// A privacy change from token `i` on: `<subject|all> <public|private>`; `None` (show the
/// settings) when there is nothing.
pub(super) fn privacy_arg<S: Subject>(args: &Args<'_>, i: usize) -> Result<Option<(Target<S>, Level)>, ParseError> {
    let Some(word) = args.word(i) else { return Ok(None) };
    let target = Target::<S>::parse(&word)
        .ok_or_else(|| ParseError(format!("Unknown privacy subject. Use one of {}, or `all`.", subject_list::<S>())))?;
    let level = args
        .word(i + 1)
        .and_then(|w| Level::parse(&w))
        .ok_or_else(|| ParseError("Say `public` or `private` after the subject.".to_owned()))?;
    Ok(Some((target, level)))
}
