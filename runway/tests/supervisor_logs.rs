//! Per-process logs: timestamped lines in NAME-out.log / NAME-error.log, size rotation, the
//! total cap, and `runway logs` (-n, --err).

mod supervisor_support;

use std::time::Duration;

use supervisor_support::*;

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
fn output_is_timestamped_split_by_stream_and_readable_with_runway_logs() {
    let project = Project::new(
        r#"
[[process]]
name = "talker"
command = ["{testproc}", "--stdout-lines", "30", "--stderr-lines", "5", "--line-bytes", "10", "--hang"]
"#,
    );
    project.up();
    let logs = project.home.join("logs");
    assert!(wait_until(Duration::from_secs(5), || read_lines(
        &logs.join("talker-error.log")
    )
    .len()
        == 5));
    assert!(wait_until(Duration::from_secs(5), || read_lines(
        &logs.join("talker-out.log")
    )
    .len()
        == 30));
    let out = read_lines(&logs.join("talker-out.log"));
    // "2026-11-28T13:20:01.123Z out 0 xxxxxxxxxx"
    assert!(
        out[0].len() > 25 && out[0].as_bytes()[10] == b'T' && out[0][24..].starts_with(" out 0 "),
        "{}",
        out[0]
    );
    assert!(read_lines(&logs.join("talker-error.log"))[4].ends_with("err 4 xxxxxxxxxx"));

    let shown = project.ok(&["logs", "talker", "-n", "3", "--err"]);
    let lines: Vec<&str> = shown.lines().filter(|l| l.starts_with("talker")).collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert!(lines[2].ends_with("err 4 xxxxxxxxxx"), "{shown}");
    let shown = project.ok(&["logs", "-n", "2"]);
    assert!(
        shown.contains("out 29") && shown.contains("err 4") && shown.contains("runway |"),
        "{shown}"
    );
    let missing = project.run(&["logs", "nobody"]);
    assert!(!missing.status.success());
}

#[test]
fn logs_rotate_by_size_and_stay_under_the_total_cap() {
    let project = Project::new(
        r#"
[logs]
max_size = "64k"
keep = 3
total_cap = "300k"

[[process]]
name = "noisy"
command = ["{testproc}", "--stdout-lines", "8000", "--line-bytes", "100", "--hang"]

[[process]]
name = "noisy2"
command = ["{testproc}", "--stdout-lines", "8000", "--line-bytes", "100", "--hang"]
"#,
    );
    project.up();
    let logs = project.home.join("logs");
    assert!(wait_until(Duration::from_secs(10), || {
        read_lines(&logs.join("noisy-out.log"))
            .last()
            .is_some_and(|l| l.contains("out 7999 "))
            && read_lines(&logs.join("noisy2-out.log"))
                .last()
                .is_some_and(|l| l.contains("out 7999 "))
    }));
    // ~1 MB written per process: rotated into at most `keep` numbered files of ≤ 64 KiB (the
    // cap may already have taken the older process's rotated files: they are the oldest).
    assert!(logs.join("noisy-out.log.1").exists() || logs.join("noisy2-out.log.1").exists());
    assert!(
        !logs.join("noisy-out.log.4").exists(),
        "keep = 3 not honoured"
    );
    for entry in std::fs::read_dir(&logs).unwrap() {
        let entry = entry.unwrap();
        assert!(
            entry.metadata().unwrap().len() <= 64 * 1024,
            "{:?} too big",
            entry.path()
        );
    }
    let total = dir_size(&logs);
    assert!(total <= 300 * 1024, "logs take {total} bytes, cap 300 KiB");
    // The newest lines survive rotation.
    let tail = project.ok(&["logs", "noisy", "--out", "-n", "1"]);
    assert!(tail.contains("out 7999 "), "{tail}");
}
