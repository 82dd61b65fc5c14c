//! The build pipeline with real commands: a step runs, is skipped when nothing changed, runs
//! again when an input, a named env value or an output changes; a failing step stops the
//! pipeline naming itself and its log; a missing tool says what to install; modes filter.

use std::collections::BTreeMap;
use std::path::Path;

use runway::checks::mode::Mode;
use runway::pipeline::{
    self, PipelineContext, PipelineError, PlainProgress, StepConfig, StepStatus,
};

#[derive(serde::Deserialize)]
struct Manifest {
    step: Vec<StepConfig>,
}

fn steps(text: &str) -> Vec<StepConfig> {
    toml::from_str::<Manifest>(text)
        .expect("test manifest")
        .step
}

fn ctx(dir: &Path, mode: Mode) -> PipelineContext {
    PipelineContext {
        base_dir: dir.to_path_buf(),
        state_dir: dir.join(".runway"),
        mode,
        env: BTreeMap::from([("DB_NAME".to_string(), "one".to_string())]),
        force: false,
    }
}

const MANIFEST: &str = r#"
    [[step]]
    name = "build"
    command = "mkdir -p out && cat src/*.txt > out/bundle && echo built >> runs.log"
    inputs = ["src"]
    outputs = ["out/bundle"]

    [[step]]
    name = "migrate"
    command = "echo migrated $DB_NAME >> runs.log"
    env_inputs = ["DB_NAME"]

    [[step]]
    name = "prod-only"
    command = "echo prod >> runs.log"
    modes = ["production"]
"#;

fn runs(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("runs.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

async fn go(dir: &Path, c: &PipelineContext) -> (Vec<(String, StepStatus)>, String) {
    let progress = PlainProgress::new(Vec::<u8>::new());
    let reports = pipeline::run(&steps(MANIFEST), c, None, &progress)
        .await
        .unwrap();
    let _ = dir;
    (
        reports.into_iter().map(|r| (r.name, r.status)).collect(),
        String::from_utf8(progress.into_inner()).unwrap(),
    )
}

#[tokio::test]
async fn steps_run_once_then_skip_until_something_they_depend_on_changes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("src")).unwrap();
    std::fs::write(d.join("src/a.txt"), "hello\n").unwrap();
    let c = ctx(d, Mode::Development);

    let (first, text) = go(d, &c).await;
    use StepStatus::*;
    assert_eq!(
        first,
        [("build".into(), Ran), ("migrate".into(), Ran)],
        "prod-only does not apply in development"
    );
    assert!(text.contains("==> build: mkdir -p out"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("    build: done in ") && l.ends_with('s')),
        "{text}"
    );
    assert_eq!(runs(d), ["built", "migrated one"]);

    let (second, text) = go(d, &c).await;
    assert_eq!(
        second,
        [("build".into(), Skipped), ("migrate".into(), Skipped)]
    );
    assert!(text.contains("build: up to date, skipped"), "{text}");
    assert_eq!(runs(d).len(), 2, "nothing ran again");

    // An input file changes: only build runs.
    std::fs::write(d.join("src/b.txt"), "more\n").unwrap();
    let (third, _) = go(d, &c).await;
    assert_eq!(third, [("build".into(), Ran), ("migrate".into(), Skipped)]);
    assert_eq!(
        std::fs::read_to_string(d.join("out/bundle")).unwrap(),
        "hello\nmore\n"
    );

    // A named environment value changes: only migrate runs.
    let mut other_db = ctx(d, Mode::Development);
    other_db.env.insert("DB_NAME".into(), "two".into());
    let (fourth, _) = go(d, &other_db).await;
    assert_eq!(fourth, [("build".into(), Skipped), ("migrate".into(), Ran)]);

    // An output disappears: build runs again.
    std::fs::remove_file(d.join("out/bundle")).unwrap();
    let (fifth, _) = go(d, &other_db).await;
    assert_eq!(fifth[0], ("build".into(), Ran));

    // Production mode adds its own step.
    let (prod, _) = go(d, &ctx(d, Mode::Production)).await;
    assert!(prod.contains(&("prod-only".into(), Ran)));
}

#[tokio::test]
async fn a_failing_step_stops_the_pipeline_and_names_its_log() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let s = steps(
        r#"
        [[step]]
        name = "build"
        command = "echo compiling; echo 'error[E0425]: cannot find value' >&2; exit 101"

        [[step]]
        name = "after"
        command = "touch after-ran"
    "#,
    );
    let progress = PlainProgress::new(Vec::<u8>::new());
    let err = pipeline::run(&s, &ctx(d, Mode::Development), None, &progress)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("step `build` failed (exit 101) after "),
        "{text}"
    );
    assert!(text.contains(".runway/logs/pipeline-build.log"), "{text}");
    assert!(text.contains("error[E0425]: cannot find value"), "{text}");
    assert!(!d.join("after-ran").exists(), "later steps do not run");
    let out = String::from_utf8(progress.into_inner()).unwrap();
    assert!(out.contains("build: FAILED after"), "{out}");

    // It was not recorded as done: it runs again next time.
    let progress = PlainProgress::new(Vec::<u8>::new());
    assert!(
        pipeline::run(&s, &ctx(d, Mode::Development), None, &progress)
            .await
            .is_err()
    );
    assert!(
        String::from_utf8(progress.into_inner())
            .unwrap()
            .contains("==> build")
    );
}

#[tokio::test]
async fn a_missing_tool_says_what_to_install_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let s = steps(
        r#"
        [[step]]
        name = "first"
        command = "touch first-ran"

        [[step]]
        name = "install"
        command = ["definitely-not-npm", "ci"]
        requires = ["definitely-not-npm"]
    "#,
    );
    let progress = PlainProgress::new(Vec::<u8>::new());
    let err = pipeline::run(&s, &ctx(dir.path(), Mode::Development), None, &progress)
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::MissingTool { .. }));
    assert!(
        err.to_string()
            .contains("`definitely-not-npm` was not found on PATH; step `install` needs it")
    );
    assert!(!dir.path().join("first-ran").exists());
    assert!(pipeline::install_hint("npm").contains("Node.js"));
}
