//! The status table a PM2 user recognises (name, pid, state, uptime, restarts, cpu, mem,
//! port), with each process's reason underneath when it has one. Never shows environment.

use crate::daemon::protocol::StatusReport;

pub fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        _ => format!("{}D", s / 86_400),
    }
}

pub fn human_bytes(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb >= 1024.0 {
        format!("{:.1}gb", mb / 1024.0)
    } else {
        format!("{mb:.1}mb")
    }
}

pub fn table(report: &StatusReport) -> String {
    let headers = ["name", "pid", "state", "uptime", "↺", "cpu", "mem", "port"];
    let rows: Vec<[String; 8]> = report
        .processes
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                p.pid.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
                p.state.as_str().to_string(),
                p.uptime_ms
                    .map(human_duration)
                    .unwrap_or_else(|| "-".into()),
                p.restarts.to_string(),
                p.cpu_percent
                    .map(|c| format!("{c:.1}%"))
                    .unwrap_or_else(|| "-".into()),
                p.rss_bytes.map(human_bytes).unwrap_or_else(|| "-".into()),
                p.port.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::from("│");
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            s.push(' ');
            s.push_str(c);
            s.push_str(&" ".repeat(pad));
            s.push_str(" │");
        }
        s.push('\n');
        s
    };
    let rule = |left: &str, mid: &str, right: &str| -> String {
        let mut s = String::from(left);
        for (i, w) in widths.iter().enumerate() {
            s.push_str(&"─".repeat(w + 2));
            s.push_str(if i + 1 == widths.len() { right } else { mid });
        }
        s.push('\n');
        s
    };
    let mut out = String::new();
    out.push_str(&rule("┌", "┬", "┐"));
    out.push_str(&line(headers.to_vec()));
    out.push_str(&rule("├", "┼", "┤"));
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out.push_str(&rule("└", "┴", "┘"));
    for p in &report.processes {
        if let Some(reason) = &p.reason {
            out.push_str(&format!("  {}: {} — {reason}\n", p.name, p.state.as_str()));
        }
    }
    for j in &report.jobs {
        out.push_str(&format!(
            "  job {}: {} · last {} (exit {}) · next {}{}\n",
            j.name,
            j.schedule,
            j.last_run.as_deref().unwrap_or("never"),
            j.last_exit
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            j.next_run.as_deref().unwrap_or("-"),
            if j.running { " · running" } else { "" }
        ));
    }
    out
}
