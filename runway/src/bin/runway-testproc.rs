//! `runway-testproc`: the child process the supervisor's tests run (std only, no runtime).
//!
//! Flags (combine freely):
//!   --port N              listen on N (default: $PORT if set); HTTP: …/health, …/env, …/pid, /
//!   --ready-after MS      wait before listening
//!   --crash-after MS      exit after MS with --exit-code (default 1)
//!   --exit-code N
//!   --hang                never listen, never exit
//!   --ignore-sigterm      SIGTERM does nothing (the supervisor must SIGKILL)
//!   --alloc-mb N          allocate and touch N MiB at start
//!   --grow-mb N           allocate and touch N more MiB every second
//!   --print-env           print the environment (KEY=VALUE, sorted) to stdout at start
//!   --stdout-lines N      write N lines to stdout (--line-bytes each, default 100)
//!   --stderr-lines N      write N lines to stderr
//!   --line-bytes B
//!   --unhealthy-file P    /health answers 503 while file P exists
//!   --grandchild          start a child of its own (same group) that ignores SIGTERM
//!   --append-start FILE   append "<pid> <unix ms>" to FILE at start (tests time restarts)
//!   --pid-file FILE       write the pid to FILE

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Default)]
struct Opts {
    port: Option<u16>,
    ready_after: u64,
    crash_after: Option<u64>,
    exit_code: i32,
    hang: bool,
    ignore_sigterm: bool,
    alloc_mb: usize,
    grow_mb: usize,
    print_env: bool,
    stdout_lines: usize,
    stderr_lines: usize,
    line_bytes: usize,
    unhealthy_file: Option<PathBuf>,
    grandchild: bool,
    append_start: Option<PathBuf>,
    pid_file: Option<PathBuf>,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        exit_code: 1,
        line_bytes: 100,
        port: std::env::var("PORT").ok().and_then(|p| p.parse().ok()),
        ..Opts::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--port" => o.port = Some(value()?.parse().map_err(|e| format!("--port: {e}"))?),
            "--ready-after" => o.ready_after = value()?.parse().map_err(|e| format!("{e}"))?,
            "--crash-after" => o.crash_after = Some(value()?.parse().map_err(|e| format!("{e}"))?),
            "--exit-code" => o.exit_code = value()?.parse().map_err(|e| format!("{e}"))?,
            "--hang" => o.hang = true,
            "--ignore-sigterm" => o.ignore_sigterm = true,
            "--alloc-mb" => o.alloc_mb = value()?.parse().map_err(|e| format!("{e}"))?,
            "--grow-mb" => o.grow_mb = value()?.parse().map_err(|e| format!("{e}"))?,
            "--print-env" => o.print_env = true,
            "--stdout-lines" => o.stdout_lines = value()?.parse().map_err(|e| format!("{e}"))?,
            "--stderr-lines" => o.stderr_lines = value()?.parse().map_err(|e| format!("{e}"))?,
            "--line-bytes" => o.line_bytes = value()?.parse().map_err(|e| format!("{e}"))?,
            "--unhealthy-file" => o.unhealthy_file = Some(PathBuf::from(value()?)),
            "--grandchild" => o.grandchild = true,
            "--append-start" => o.append_start = Some(PathBuf::from(value()?)),
            "--pid-file" => o.pid_file = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(o)
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn main() {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("runway-testproc: {e}");
            std::process::exit(2);
        }
    };
    let pid = std::process::id();
    if o.ignore_sigterm {
        // SAFETY: setting a signal disposition to SIG_IGN.
        unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    }
    if let Some(file) = &o.append_start
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
    {
        let _ = writeln!(f, "{pid} {}", now_ms());
    }
    if let Some(file) = &o.pid_file {
        let _ = std::fs::write(file, pid.to_string());
    }
    if o.print_env {
        let mut vars: Vec<(String, String)> = std::env::vars().collect();
        vars.sort();
        let mut out = std::io::stdout().lock();
        for (k, v) in vars {
            let _ = writeln!(out, "{k}={v}");
        }
        let _ = out.flush();
    }
    if o.stdout_lines > 0 || o.stderr_lines > 0 {
        let line = "x".repeat(o.line_bytes);
        let mut out = std::io::stdout().lock();
        for i in 0..o.stdout_lines {
            let _ = writeln!(out, "out {i} {line}");
        }
        let _ = out.flush();
        let mut err = std::io::stderr().lock();
        for i in 0..o.stderr_lines {
            let _ = writeln!(err, "err {i} {line}");
        }
    }
    if o.grandchild
        && let Ok(exe) = std::env::current_exe()
    {
        let _ = std::process::Command::new(exe)
            .args(["--hang", "--ignore-sigterm"])
            .env_remove("PORT")
            .spawn();
    }
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    if o.alloc_mb > 0 {
        hoard.push(vec![1u8; o.alloc_mb * 1024 * 1024]);
    }
    if let Some(ms) = o.crash_after {
        let code = o.exit_code;
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(ms));
            eprintln!("runway-testproc: crashing with exit code {code}");
            std::process::exit(code);
        });
    }
    if o.grow_mb > 0 {
        let step = o.grow_mb;
        std::thread::spawn(move || {
            let mut held: Vec<Vec<u8>> = Vec::new();
            loop {
                held.push(vec![1u8; step * 1024 * 1024]);
                std::thread::sleep(Duration::from_secs(1));
            }
        });
    }
    std::thread::sleep(Duration::from_millis(o.ready_after));
    if o.hang || o.port.is_none() {
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let port = o.port.unwrap_or(0);
    let listener = match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("runway-testproc: cannot listen on {port}: {e}");
            std::process::exit(3);
        }
    };
    println!("runway-testproc {pid} listening on 127.0.0.1:{port}");
    let unhealthy = o.unhealthy_file.clone();
    for stream in listener.incoming().flatten() {
        let unhealthy = unhealthy.clone();
        std::thread::spawn(move || serve(stream, unhealthy));
    }
    drop(hoard);
}

fn serve(stream: TcpStream, unhealthy: Option<PathBuf>) {
    let Ok(read) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        // Skip the headers.
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            if header == "\r\n" || header == "\n" {
                break;
            }
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or("/");
        // Matched on the last segment, so `/api/pid` works behind a proxy that keeps prefixes.
        let last = path
            .split('?')
            .next()
            .unwrap_or("")
            .rsplit('/')
            .next()
            .unwrap_or("");
        let (status, body) = match last {
            "health" => {
                if unhealthy.as_ref().is_some_and(|f| f.exists()) {
                    ("503 Service Unavailable", "unhealthy\n".to_string())
                } else {
                    ("200 OK", "ok\n".to_string())
                }
            }
            "env" => {
                let mut vars: Vec<(String, String)> = std::env::vars().collect();
                vars.sort();
                (
                    "200 OK",
                    vars.iter().map(|(k, v)| format!("{k}={v}\n")).collect(),
                )
            }
            "pid" => ("200 OK", format!("{}\n", std::process::id())),
            _ => ("200 OK", format!("hello from {}\n", std::process::id())),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}
