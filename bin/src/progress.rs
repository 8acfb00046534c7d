//! Progress bars for long work: shown on a terminal, silent in logs.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A row counter drawn on stderr when it is a terminal, hidden otherwise.
pub fn rows_bar(what: &str, total: Option<u64>) -> ProgressBar {
    let bar = match total {
        Some(n) => ProgressBar::new(n),
        None => ProgressBar::no_length(),
    };
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        return bar;
    }
    let template = if total.is_some() {
        "{msg} [{bar:30}] {human_pos}/{human_len} rows ({per_sec}, {eta})"
    } else {
        "{spinner} {msg} {human_pos} rows ({per_sec})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// A byte counter drawn on stderr when it is a terminal, hidden otherwise.
pub fn bytes_bar(what: &str) -> ProgressBar {
    let bar = ProgressBar::no_length();
    if !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        return bar;
    }
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg} {binary_bytes} ({binary_bytes_per_sec})")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}
