//! Progress for long operations (pipeline steps, deploy phases): a spinner with the running
//! step and its elapsed time on a terminal, plain lines otherwise (CI logs, pipes).

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy)]
pub enum StepEvent<'a> {
    Started { step: &'a str, command: &'a str },
    Skipped { step: &'a str },
    Finished { step: &'a str, elapsed: Duration },
    Failed { step: &'a str, elapsed: Duration },
}

pub trait Progress: Send + Sync {
    fn event(&self, event: StepEvent<'_>);
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Plain lines to a writer (stderr by default): one when a step starts, one when it ends.
pub struct PlainProgress<W: Write + Send> {
    out: Mutex<W>,
}

impl<W: Write + Send> PlainProgress<W> {
    pub fn new(out: W) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    pub fn into_inner(self) -> W {
        self.out.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl<W: Write + Send> Progress for PlainProgress<W> {
    fn event(&self, event: StepEvent<'_>) {
        let line = match event {
            StepEvent::Started { step, command } => format!("==> {step}: {command}"),
            StepEvent::Skipped { step } => format!("    {step}: up to date, skipped"),
            StepEvent::Finished { step, elapsed } => {
                format!("    {step}: done in {}", secs(elapsed))
            }
            StepEvent::Failed { step, elapsed } => {
                format!("    {step}: FAILED after {}", secs(elapsed))
            }
        };
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// A spinner per running step; finished steps stay as a line with their time.
pub struct TtyProgress {
    current: Mutex<Option<ProgressBar>>,
}

impl TtyProgress {
    pub fn new() -> Self {
        Self {
            current: Mutex::new(None),
        }
    }
}

impl Default for TtyProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for TtyProgress {
    fn event(&self, event: StepEvent<'_>) {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        match event {
            StepEvent::Started { step, command } => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:<16} {msg} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(step.to_string());
                bar.set_message(command.to_string());
                bar.enable_steady_tick(Duration::from_millis(100));
                *cur = Some(bar);
            }
            StepEvent::Skipped { step } => {
                eprintln!("- {step:<16} up to date");
            }
            StepEvent::Finished { step, elapsed } => {
                if let Some(bar) = cur.take() {
                    bar.finish_and_clear();
                }
                eprintln!("✓ {step:<16} {}", secs(elapsed));
            }
            StepEvent::Failed { step, elapsed } => {
                if let Some(bar) = cur.take() {
                    bar.finish_and_clear();
                }
                eprintln!("✗ {step:<16} failed after {}", secs(elapsed));
            }
        }
    }
}

/// A spinner when stderr is a terminal, plain lines otherwise.
pub fn auto_progress() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(TtyProgress::new())
    } else {
        Box::new(PlainProgress::new(std::io::stderr()))
    }
}
