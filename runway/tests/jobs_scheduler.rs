//! The job scheduler with real commands: cron timing, overlap skip, timeouts that kill the whole
//! process group, run-now, per-job logs, persisted history, and config errors.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use runway::jobs::{JobConfig, JobContext, JobError, Scheduler};
use runway::pipeline::exec::Outcome;

#[derive(serde::Deserialize)]
struct Manifest {
    job: Vec<JobConfig>,
}

fn jobs(toml_text: &str) -> Vec<JobConfig> {
    toml::from_str::<Manifest>(toml_text)
        .expect("test manifest")
        .job
}

fn ctx(dir: &Path) -> JobContext {
    JobContext {
        base_dir: dir.to_path_buf(),
        state_dir: dir.join(".runway"),
        env: BTreeMap::from([("FROM_CONTEXT".to_string(), "ctx-value".to_string())]),
    }
}

fn lines(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn alive(pid: i32) -> bool {
    // A zombie still has a /proc entry; only count processes that can run.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[tokio::test]
async fn runs_on_its_schedule_and_records_each_run() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scheduler::new(
        jobs(
            r#"
            [[job]]
            name = "tick"
            schedule = "* * * * * *"
            command = "echo tick >> ticks.txt"
        "#,
        ),
        ctx(dir.path()),
    )
    .unwrap();
    s.start();
    tokio::time::sleep(Duration::from_millis(3300)).await;
    s.shutdown(Duration::from_secs(5)).await;

    let ticks = lines(&dir.path().join("ticks.txt"));
    assert!(ticks >= 2, "expected at least 2 runs in 3.3 s, got {ticks}");
    let st = &s.status()[0];
    assert_eq!(st.runs as usize, ticks);
    assert_eq!(
        st.last_run.as_ref().unwrap().outcome,
        Outcome::Exited { code: 0 }
    );
    assert!(st.next_run.is_some());
    let log = std::fs::read_to_string(s.out_log("tick")).unwrap();
    assert!(log.contains("--- run started (schedule)"), "{log}");
    assert!(log.contains("--- run finished: exit 0"), "{log}");
}

#[tokio::test]
async fn overlapping_run_is_skipped_and_shutdown_kills_the_running_one() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scheduler::new(
        jobs(
            r#"
            [[job]]
            name = "slow"
            schedule = "* * * * * *"
            command = "echo $$ >> starts.txt; sleep 30"
        "#,
        ),
        ctx(dir.path()),
    )
    .unwrap();
    s.start();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let st = &s.status()[0];
    assert!(st.running);
    assert_eq!(
        lines(&dir.path().join("starts.txt")),
        1,
        "only one run may start"
    );
    assert!(st.skipped >= 1, "later ticks must be skipped: {st:?}");
    let log = std::fs::read_to_string(s.out_log("slow")).unwrap();
    assert!(
        log.contains("skipped: the previous run is still going"),
        "{log}"
    );
    assert!(matches!(
        s.run_now("slow").await,
        Err(JobError::AlreadyRunning(_))
    ));

    let pid: i32 = std::fs::read_to_string(dir.path().join("starts.txt"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(alive(pid));
    s.shutdown(Duration::from_secs(10)).await;
    assert!(!s.status()[0].running);
    assert!(!alive(pid), "shutdown must stop the running job");
}

#[tokio::test]
async fn timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scheduler::new(
        jobs(
            r#"
            [[job]]
            name = "hang"
            schedule = "0 0 1 1 *"
            timeout = "1s"
            command = "sleep 60 & echo $! > grandchild.pid; wait"
        "#,
        ),
        ctx(dir.path()),
    )
    .unwrap();
    let result = s.run_now("hang").await.unwrap();
    assert_eq!(result.outcome, Outcome::TimedOut);
    let pid: i32 = std::fs::read_to_string(dir.path().join("grandchild.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The grandchild is reparented; give init a moment to reap it.
    for _ in 0..50 {
        if !alive(pid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!alive(pid), "the background grandchild must be killed too");
    let log = std::fs::read_to_string(s.out_log("hang")).unwrap();
    assert!(log.contains("--- run finished: timed out"), "{log}");
}

#[tokio::test]
async fn run_now_logs_both_streams_with_timestamps_and_history_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let manifest = r#"
        [[job]]
        name = "report"
        schedule = "30 3 * * *"
        timezone = "Europe/Paris"
        cwd = "sub"
        env = { FROM_JOB = "job-value" }
        command = ["sh", "-c", "pwd; echo \"$FROM_CONTEXT $FROM_JOB\"; echo oops >&2; exit 3"]
    "#;
    let s = Scheduler::new(jobs(manifest), ctx(dir.path())).unwrap();
    let result = s.run_now("report").await.unwrap();
    assert_eq!(result.outcome, Outcome::Exited { code: 3 });

    let out = std::fs::read_to_string(s.out_log("report")).unwrap();
    assert!(
        out.contains("/sub\n"),
        "cwd is relative to the base dir: {out}"
    );
    assert!(out.contains("ctx-value job-value"), "{out}");
    assert!(out.contains("--- run finished: exit 3"), "{out}");
    let err = std::fs::read_to_string(s.err_log("report")).unwrap();
    let line = err.lines().find(|l| l.ends_with(" oops")).unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(line.split(' ').next().unwrap()).is_ok(),
        "each line starts with a timestamp: {line}"
    );
    assert!(s.out_log("report").ends_with("logs/job:report-out.log"));

    match s.run_now("nope").await {
        Err(JobError::NotFound(name, known)) => {
            assert_eq!(name, "nope");
            assert_eq!(known, "report");
        }
        other => panic!("{other:?}"),
    }

    // A new scheduler over the same state directory knows the last run.
    let again = Scheduler::new(jobs(manifest), ctx(dir.path())).unwrap();
    let st = &again.status()[0];
    assert_eq!(st.runs, 1);
    assert_eq!(
        st.last_run.as_ref().unwrap().outcome,
        Outcome::Exited { code: 3 }
    );
    let next = st.next_run.unwrap();
    let paris = next.with_timezone(&chrono_tz::Europe::Paris);
    assert_eq!(paris.format("%H:%M").to_string(), "03:30");
}

#[tokio::test]
async fn a_command_that_cannot_start_is_an_outcome_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let s = Scheduler::new(
        jobs(
            r#"
            [[job]]
            name = "missing"
            schedule = "@daily"
            command = ["/nonexistent/program"]
        "#,
        ),
        ctx(dir.path()),
    )
    .unwrap();
    let result = s.run_now("missing").await.unwrap();
    assert!(
        matches!(&result.outcome, Outcome::SpawnFailed { reason } if reason.contains("/nonexistent/program")),
        "{result:?}"
    );
}

#[test]
fn every_config_problem_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let err = Scheduler::new(
        jobs(
            r#"
            [[job]]
            name = "a"
            schedule = "30 3 * *"
            command = "true"

            [[job]]
            name = "b"
            schedule = "30 3 * * *"
            timezone = "Nowhere/City"
            command = ""

            [[job]]
            name = "a"
            schedule = "* * * * *"
            command = "true"
        "#,
        ),
        ctx(dir.path()),
    )
    .err()
    .expect("invalid");
    let JobError::Invalid(problems) = err else {
        panic!("{err:?}")
    };
    let all = problems.join("\n");
    assert!(all.contains("job `a`: schedule `30 3 * *`"), "{all}");
    assert!(all.contains("Nowhere/City"), "{all}");
    assert!(all.contains("job `b`: command is empty"), "{all}");
    assert!(all.contains("job `a` is declared 2 times"), "{all}");

    let bad_timeout = toml::from_str::<Manifest>(
        r#"
        [[job]]
        name = "x"
        schedule = "* * * * *"
        command = "true"
        timeout = "5 fortnights"
    "#,
    );
    assert!(bad_timeout.is_err());
}
